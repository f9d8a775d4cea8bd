"""Jobs of accounts' core (contract §14): every account email (verification, reset, lockout,
password and 2FA changes, sign-in alerts, email change, data export ready, deletion) and the
hourly cleanups of sessions and blacklisted tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.core.links import email_verification_token_issue, password_reset_token_issue
from accounts.models import (
    DataExport,
    ExportStatus,
    LoginHistory,
    TokenBlacklist,
    User,
    UserSession,
)
from config.emails import email_send
from config.jobs import periodic, task
from security.system_settings import get_setting

EMAIL_RETRIES = 5


def _recipient(user_id: int) -> User | None:
    """The live user an email job is for (None: deleted meanwhile, nothing to send)."""
    return User.objects.alive().filter(pk=user_id).first()


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@task(retries=EMAIL_RETRIES)
def send_verification_email(*, user_id: int, change: bool = False) -> None:
    """`email_verification` (or `email_change_verify` after an email change): a fresh 24 h link
    to {SITE_URL}/verify-email?token=…"""

    user = _recipient(user_id)
    if user is None or user.email_verified:
        return
    token = email_verification_token_issue(user=user)
    if token is None:  # the address changed since: its own job sends its link
        return
    email_send(
        to=user.email,
        template="email_change_verify" if change else "email_verification",
        context={
            "new_email": user.email,
            "user": user,
            "verify_url": _url(f"/verify-email?{urlencode({'token': token})}"),
            "expires_hours": settings.EMAIL_VERIFICATION_TOKEN_HOURS,
        },
    )


@task(retries=EMAIL_RETRIES)
def send_password_reset_email(*, user_id: int, ip_address: str = "") -> None:
    """`password_reset`: a fresh 1 h link to {SITE_URL}/reset-password?token=…"""

    user = _recipient(user_id)
    if user is None or not user.is_active:
        return
    token = password_reset_token_issue(user=user)
    email_send(
        to=user.email,
        template="password_reset",
        context={
            "user": user,
            "reset_url": _url(f"/reset-password?{urlencode({'token': token})}"),
            "expires_minutes": settings.PASSWORD_RESET_TOKEN_HOURS * 60,
            "ip_address": ip_address,
        },
    )


@task(retries=EMAIL_RETRIES)
def send_account_locked_email(*, user_id: int, ip_address: str = "") -> None:
    user = _recipient(user_id)
    if user is None:
        return
    email_send(
        to=user.email,
        template="account_locked",
        context={
            "user": user,
            "locked_minutes": int(get_setting("lockout_duration_minutes")),
            "reset_url": _url("/accounts/password/reset/"),
            "ip_address": ip_address,
        },
    )


@task(retries=EMAIL_RETRIES)
def send_password_changed_email(*, user_id: int, ip_address: str = "") -> None:
    user = _recipient(user_id)
    if user is None:
        return
    email_send(
        to=user.email,
        template="password_changed",
        context={
            "user": user,
            "changed_at": user.last_password_change_at or timezone.now(),
            "ip_address": ip_address,
            "reset_url": _url("/accounts/password/reset/"),
        },
    )


@task(retries=EMAIL_RETRIES)
def send_login_alert_email(*, user_id: int, history_id: int) -> None:
    """`login_alert`: a sign-in from a device this account had not used before."""
    user = _recipient(user_id)
    entry = LoginHistory.objects.filter(pk=history_id, user_id=user_id).first()
    if user is None or entry is None:
        return
    email_send(
        to=user.email,
        template="login_alert",
        context={
            "user": user,
            "device_info": entry.device_info or "An unknown device",
            "ip_address": entry.ip_address or "",
            "location": entry.location,
            "signed_in_at": entry.created_at,
            "sessions_url": _url("/settings/security/"),
        },
    )


@task(retries=EMAIL_RETRIES)
def send_security_email(*, user_id: int, template: str, ip_address: str = "") -> None:
    """Security notices without extra data: `two_factor_enabled`, `two_factor_disabled`."""
    if template not in {"two_factor_enabled", "two_factor_disabled"}:
        raise ValueError(f"unknown security email {template!r}")
    user = _recipient(user_id)
    if user is None:
        return
    email_send(
        to=user.email,
        template=template,
        context={
            "user": user,
            "changed_at": timezone.now(),
            "ip_address": ip_address,
            "sessions_url": _url("/settings/security/"),
        },
    )


@periodic("cleanup_expired_sessions", hourly=True)
def cleanup_expired_sessions() -> int:
    """Delete sessions that expired, or were revoked more than 24 h ago."""
    now = timezone.now()
    deleted, _ = UserSession.objects.filter(
        Q(expires_at__lt=now) | Q(revoked_at__lt=now - timedelta(hours=24))
    ).delete()
    return deleted


@periodic("cleanup_token_blacklist", hourly=True)
def cleanup_token_blacklist() -> int:
    """Delete blacklist entries whose tokens have expired anyway."""
    deleted, _ = TokenBlacklist.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


@task(retries=EMAIL_RETRIES)
def send_email_changed_notice(*, user_id: int, old_email: str, new_email: str) -> None:
    """`email_changed`: tell the previous address that the account's email was changed."""
    user = _recipient(user_id)
    if user is None:
        return
    email_send(
        to=old_email,
        template="email_changed",
        context={
            "user": user,
            "old_email": old_email,
            "new_email": new_email,
            "reset_url": _url("/accounts/password/reset/"),
        },
    )


DELETION_EMAILS = {
    "requested": "account_deletion_requested",
    "cancelled": "account_deletion_cancelled",
    "reminder": "account_deletion_reminder",
    "deleted": "account_deleted",
}


@task(retries=EMAIL_RETRIES)
def send_data_export_ready_email(*, export_id: int) -> None:
    """`data_export_ready`: the export can be downloaded from Settings → Privacy."""
    export = (
        DataExport.objects.select_related("user")
        .filter(pk=export_id, status=ExportStatus.COMPLETED, user__deleted_at__isnull=True)
        .first()
    )
    if export is None:
        return
    email_send(
        to=export.user.email,
        template="data_export_ready",
        context={
            "user": export.user,
            "download_url": _url("/settings/privacy/"),
            "expires_at": export.expires_at,
            "file_size": export.file_size or 0,
        },
    )


@task(retries=EMAIL_RETRIES)
def send_account_deletion_email(
    *, kind: str, user_id: int | None = None, email: str = "", name: str = ""
) -> None:
    """The deletion emails: `requested`, `cancelled`, `reminder` (to a live user by id) and
    `deleted` (to the address captured before the purge, as the user no longer exists)."""
    if kind not in DELETION_EMAILS:
        raise ValueError(f"unknown account deletion email {kind!r}")
    privacy_url = _url("/settings/privacy/")
    context: dict[str, Any]
    if kind == "deleted":
        if not email:
            raise ValueError("the `deleted` email needs the captured address")
        context = {"user": {"name": name, "email": email}, "deleted_at": timezone.now()}
        email_send(to=email, template=DELETION_EMAILS[kind], context=context)
        return
    user = User.objects.alive().filter(pk=user_id).first() if user_id is not None else None
    if user is None:
        return
    if kind in ("requested", "reminder") and user.deletion_scheduled_at is None:
        return  # cancelled meanwhile: nothing to announce
    if kind == "cancelled" and user.deletion_scheduled_at is not None:
        return  # requested again meanwhile
    context = {
        "user": user,
        "scheduled_for": user.deletion_scheduled_at,
        "reason": user.deletion_reason,
        "privacy_url": privacy_url,
        "reset_url": _url("/accounts/password/reset/"),
    }
    email_send(to=user.email, template=DELETION_EMAILS[kind], context=context)
