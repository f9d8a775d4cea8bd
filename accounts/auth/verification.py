"""Email verification and password reset (contract §2, §13.1).

Tokens are 32 random bytes, stored only as HMAC hashes on the user (one live token of each
kind; a new one replaces the old). They are created inside the email jobs, so no plaintext
token ever sits in the job queue. Nothing here reveals whether an address has an account.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.auth import sessions
from accounts.core import tasks, validators
from accounts.models import User
from config import realtime
from config.errors import BadRequest, TokenExpired, TokenInvalid
from security.crypto import token_hash_candidates
from security.services import audit_record

RESEND_INTERVAL = timedelta(minutes=1)


class LinkTokenInvalid(TokenInvalid):
    status = 400


class LinkTokenExpired(TokenExpired):
    status = 400


# --- Email verification -----------------------------------------------------------------------


def email_verification_send(*, user: User, change: bool = False) -> bool:
    """Queue a verification email (at most one a minute per account). Returns False when
    throttled. Raises 400 if the address is already verified."""

    if user.email_verified:
        raise BadRequest("Email is already verified")
    now = timezone.now()
    with transaction.atomic():
        fresh = User.objects.select_for_update().get(pk=user.pk)
        sent = fresh.email_verification_sent_at
        if sent and now - sent < RESEND_INTERVAL:
            return False
        fresh.email_verification_sent_at = now
        fresh.save(update_fields=["email_verification_sent_at"])
        tasks.send_verification_email.enqueue(user_id=user.pk, change=change)
    return True


def email_verification_resend(*, email: str) -> None:
    """Anonymous resend: silently does nothing for unknown or verified addresses."""
    user = (
        User.objects.alive()
        .filter(email__iexact=User.objects.normalize_email(email), is_active=True)
        .first()
    )
    if user is not None and not user.email_verified:
        email_verification_send(user=user)


def email_verify(*, token: str) -> User:
    """Mark the address verified (400 TOKEN_INVALID / TOKEN_EXPIRED otherwise). Single use."""
    if not token or len(token) > 200:
        raise LinkTokenInvalid("Invalid verification token")
    with transaction.atomic():
        user = (
            User.objects.select_for_update()
            .filter(email_verification_token_hash__in=token_hash_candidates(token))
            .exclude(email_verification_token_hash="")
            .first()
        )
        if user is None or user.deleted_at is not None:
            raise LinkTokenInvalid("Invalid verification token")
        if not user.email_verification_expires_at or user.email_verification_expires_at < (
            timezone.now()
        ):
            raise LinkTokenExpired("Verification token has expired")
        user.email_verified = True
        user.email_verified_at = timezone.now()
        user.email_verification_token_hash = ""
        user.email_verification_expires_at = None
        user.save(
            update_fields=[
                "email_verified",
                "email_verified_at",
                "email_verification_token_hash",
                "email_verification_expires_at",
                "updated_at",
            ]
        )
        _sync_allauth_address(user)
        audit_record(actor=user, action="email_verify", target_type="user", target_id=user.pk)
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
    return user


def _sync_allauth_address(user: User) -> None:
    """Keep allauth's EmailAddress (used by its pages and social login) in step."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=user).exclude(email__iexact=user.email).update(primary=False)
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


# --- Password reset ---------------------------------------------------------------------------


def password_reset_request(*, email: str, ip: str = "") -> None:
    """Queue a reset link for an active account with that address; silent otherwise."""

    user = (
        User.objects.alive()
        .filter(email__iexact=User.objects.normalize_email(email), is_active=True)
        .first()
    )
    if user is None:
        return
    audit_record(actor=user, action="password_reset_request", target_type="user", target_id=user.pk)
    tasks.send_password_reset_email.enqueue(user_id=user.pk, ip_address=ip)


def password_reset_user(*, token: str) -> User:
    """The user a live reset token belongs to (for showing the form); raises 400 otherwise."""
    if not token or len(token) > 200:
        raise LinkTokenInvalid("Invalid or already used reset token")
    user = (
        User.objects.alive()
        .filter(password_reset_token_hash__in=token_hash_candidates(token))
        .exclude(password_reset_token_hash="")
        .first()
    )
    if user is None:
        raise LinkTokenInvalid("Invalid or already used reset token")
    if not user.password_reset_expires_at or user.password_reset_expires_at < timezone.now():
        raise LinkTokenExpired("Reset token has expired")
    return user


def password_reset_confirm(*, token: str, password: str, ip: str = "") -> User:
    """Set a new password from a reset link: single use; clears the lockout, revokes every
    session and emails `password_changed`."""

    user = password_reset_user(token=token)
    validators.validate_password(password)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.password_reset_token_hash:  # used by a concurrent request
            raise LinkTokenInvalid("Invalid or already used reset token")
        user.set_password(password)
        user.password_reset_token_hash = ""
        user.password_reset_expires_at = None
        user.failed_login_attempts, user.last_failed_login, user.locked_until = 0, None, None
        user.last_password_change_at = timezone.now()
        user.save()
        sessions.sessions_revoke_all(user=user, reason="password_reset")
        audit_record(actor=user, action="password_reset", target_type="user", target_id=user.pk)
        tasks.send_password_changed_email.enqueue(user_id=user.pk, ip_address=ip)
    return user
