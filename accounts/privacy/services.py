"""GDPR: data export (contract §3.6) and account deletion with a 14-day grace (§3.7, §3.8).

Export: a request row (one in progress per user, one per 24 h), a job that writes a ZIP of the
user's data to PRIVATE storage (`STORAGES["private"]`, never served by a URL), a streamed
download for the owner, expiry after 7 days. The job is idempotent: each run starts over with a
fresh file name and only the newest run may complete the row, so a worker killed mid-export,
a re-delivered task or a retry never leaves it stuck or half-written.

Deletion: a request stores `deletion_requested_at`/`deletion_scheduled_at`/`deletion_reason`;
cancelling (or any sign-in, see `services.sign_in_complete`) clears them; the daily purge hands
sole-owner organizations over (or deletes them when nobody else is left) and hard-deletes the
user. What is kept or removed is documented in docs/gdpr.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import lifecycle
from accounts.auth import sessions
from accounts.auth.oauth import account_email, oauth_accounts
from accounts.auth.services import account_deletion_cancelled_notify
from accounts.core import tasks
from accounts.core.avatars import avatar_url
from accounts.core.roles import last_super_admin_guard, super_admins_lock
from accounts.models import (
    BackupCode,
    DataExport,
    ExportStatus,
    LoginHistory,
    TOTPDevice,
    User,
    UserSession,
    user_cache_clear,
)
from accounts.profile.services import preferences_get
from config import jobs, realtime
from config.errors import Conflict, NotFound, RateLimited, ValidationFailed
from security.services import audit_record

logger = logging.getLogger("keel.privacy")

ProgressCallback = Callable[[int], None]

EXPORT_RETRIES = 3  # the job's retries (contract §14: non-email jobs retry up to 3 times)
EXPORT_MAX_ATTEMPTS = EXPORT_RETRIES + 1
EXPORT_INTERVAL = timedelta(hours=24)
EXPORT_LIFETIME = timedelta(days=7)
EXPORT_FILE_GRACE = timedelta(hours=24)  # files outlive `expires_at` by a day (hourly cleanup)
EXPORT_STALE_AFTER = timedelta(hours=2)  # in progress this long: the job is gone for good
EXPORT_FAILED_MESSAGE = "The export could not be generated. Please request a new one."
EXPORT_STALE_MESSAGE = "The export did not finish. Please request a new one."
EXPORT_IN_PROGRESS = (ExportStatus.PENDING, ExportStatus.PROCESSING)
DOWNLOAD_URL = "/api/v1/users/me/export/download"
DOWNLOAD_NAME = "user_data_{user_id}.zip"  # named after the user, not the export (contract §3.6)
EXPORT_FORMAT_VERSION = 1
LOGIN_HISTORY_LIMIT = 100
AUDIT_LIMIT = 500

DELETION_GRACE = timedelta(days=14)
DELETION_CONFIRMATION = "DELETE"
DELETION_REASON_MAX = 1000
PURGE_AT = time(3, 0)  # the daily purge (UTC); reminders go out the run before


def private_storage() -> Storage:
    """Where exports live: a storage no URL serves (contract §3.6)."""
    return storages["private"]


def _iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with `Z`, as the API writes timestamps (contract §0.2)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _report(progress: ProgressCallback | None, percent: int) -> None:
    if progress is not None:
        progress(max(0, min(100, percent)))


# --- Export: requests and reads ---------------------------------------------------------------


def data_export_request(*, user: User) -> DataExport:
    """Queue a new export. 409 CONFLICT while one is pending or processing; 429 RATE_LIMITED
    (with `retry_after`) within 24 h of the previous request (failed ones do not count)."""

    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one request at a time
        if DataExport.objects.filter(user=user, status__in=EXPORT_IN_PROGRESS).exists():
            raise Conflict("A data export is already in progress")
        last = (
            DataExport.objects.filter(user=user)
            .exclude(status=ExportStatus.FAILED)
            .order_by("-requested_at")
            .first()
        )
        if last is not None and now - last.requested_at < EXPORT_INTERVAL:
            wait = (last.requested_at + EXPORT_INTERVAL - now).total_seconds()
            raise RateLimited(
                "You can request one data export every 24 hours",
                retry_after=max(1, math.ceil(wait)),
            )
        try:
            with transaction.atomic():
                export = DataExport.objects.create(user=user, requested_at=now, created_at=now)
        except IntegrityError:  # the one-in-progress constraint, under a concurrent request
            raise Conflict("A data export is already in progress") from None
        audit_record(
            actor=user, action="data_export_request", target_type="data_export", target_id=export.pk
        )
        jobs.enqueue("generate_data_export", export_id=export.pk)  # the job calls back here
    return export


def data_export_latest(*, user: User) -> DataExport | None:
    """The user's newest export; a completed one past `expires_at` is marked expired first."""
    export = DataExport.objects.filter(user=user).order_by("-requested_at", "-id").first()
    if (
        export is not None
        and export.status == ExportStatus.COMPLETED
        and export.expires_at is not None
        and export.expires_at <= timezone.now()
    ):
        DataExport.objects.filter(pk=export.pk, status=ExportStatus.COMPLETED).update(
            status=ExportStatus.EXPIRED
        )
        export.status = ExportStatus.EXPIRED
    return export


def data_export_download_url(export: DataExport) -> str | None:
    """`/api/v1/users/me/export/download` while the export can be downloaded."""
    ready = export.status == ExportStatus.COMPLETED and (
        export.expires_at is None or export.expires_at > timezone.now()
    )
    return DOWNLOAD_URL if ready and export.file_path else None


def data_export_file_name(*, user: User) -> str:
    """The name the ZIP is offered under (download, `manage.py export_user_data`)."""
    return DOWNLOAD_NAME.format(user_id=user.pk)


def data_export_open(*, user: User) -> tuple[DataExport, IO[bytes]]:
    """The user's newest downloadable export and its opened file (404 when there is none, it
    expired or it is not ready). Downloads are audited."""
    data_export_latest(user=user)  # marks an expired one
    export = (
        DataExport.objects.filter(
            user=user, status=ExportStatus.COMPLETED, expires_at__gt=timezone.now()
        )
        .exclude(file_path="")
        .order_by("-requested_at", "-id")
        .first()
    )
    storage = private_storage()
    if export is None or not storage.exists(export.file_path):
        raise NotFound("No data export is ready for download")
    handle = storage.open(export.file_path, "rb")
    audit_record(
        actor=user, action="data_export_download", target_type="data_export", target_id=export.pk
    )
    return export, handle


# --- Export: what goes in the ZIP -------------------------------------------------------------


def _profile(user: User) -> dict[str, Any]:

    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "email_verified": user.email_verified,
        "email_verified_at": _iso(user.email_verified_at),
        "role": user.role,
        "is_active": user.is_active,
        "bio": user.bio,
        "location": user.location,
        "social_links": dict(user.social_links or {}),
        "avatar_url": avatar_url(user),
        "oauth_provider": user.oauth_provider or None,
        "two_factor_enabled": user.two_factor_enabled,
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
        "last_login_at": _iso(user.last_login_at),
        "last_login_ip": user.last_login_ip,
        "last_password_change_at": _iso(user.last_password_change_at),
        "deletion_requested_at": _iso(user.deletion_requested_at),
        "deletion_scheduled_at": _iso(user.deletion_scheduled_at),
    }


def _preferences(user: User) -> dict[str, Any]:

    prefs = preferences_get(user=user)
    return {
        "theme": prefs.theme,
        "timezone": prefs.timezone,
        "language": prefs.language,
        "date_format": prefs.date_format,
        "time_format": prefs.time_format,
        "email_notifications": dict(prefs.email_notifications or {}),
        "created_at": _iso(prefs.created_at),
        "updated_at": _iso(prefs.updated_at),
    }


def _device(row: UserSession | LoginHistory) -> dict[str, Any]:
    return {
        "ip_address": row.ip_address,
        "device_info": row.device_info,
        "browser": row.browser,
        "browser_version": row.browser_version,
        "os": row.os,
        "os_version": row.os_version,
        "device_type": row.device_type,
        "location": row.location,
    }


def _sessions(user: User) -> list[dict[str, Any]]:
    return [
        {
            "id": s.pk,
            **_device(s),
            "auth_method": s.auth_method,
            "created_at": _iso(s.created_at),
            "last_active_at": _iso(s.last_active_at),
            "expires_at": _iso(s.expires_at),
            "revoked_at": _iso(s.revoked_at),
        }
        for s in UserSession.objects.filter(user=user).order_by("-created_at", "-id")
    ]


def _login_history(user: User) -> list[dict[str, Any]]:
    rows = LoginHistory.objects.filter(user=user).order_by("-created_at", "-id")
    return [
        {
            "id": h.pk,
            "success": h.success,
            "failure_reason": h.failure_reason,
            "auth_method": h.auth_method,
            "user_agent": h.user_agent,
            **_device(h),
            "created_at": _iso(h.created_at),
        }
        for h in rows[:LOGIN_HISTORY_LIMIT]
    ]


def _two_factor(user: User) -> dict[str, Any]:
    """Whether 2FA is on, since when, and how many backup codes are left: never the secret or
    the codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    remaining = BackupCode.objects.filter(user=user, used_at__isnull=True).count() if device else 0
    return {
        "enabled": device is not None,
        "verified_at": _iso(device.verified_at) if device else None,
        "backup_codes_remaining": remaining,
    }


def _connected_accounts(user: User) -> list[dict[str, Any]]:

    return [
        {
            "provider": a.provider,
            "uid": a.uid,
            "email": account_email(a),
            "date_joined": _iso(a.date_joined),
        }
        for a in oauth_accounts(user=user)
    ]


def _audit_log(user: User) -> list[dict[str, Any]]:
    from security.models import AuditLog

    rows = AuditLog.objects.filter(actor=user).order_by("-created_at", "-id")[:AUDIT_LIMIT]
    return [
        {
            "id": a.pk,
            "action": a.action,
            "target_type": a.target_type,
            "target_id": a.target_id,
            "changes": a.changes,
            "ip_address": a.ip_address,
            "user_agent": a.user_agent,
            "created_at": _iso(a.created_at),
        }
        for a in rows
    ]


EXPORT_SECTIONS: tuple[tuple[str, Callable[[User], Any]], ...] = (
    ("profile", _profile),
    ("preferences", _preferences),
    ("sessions", _sessions),
    ("login_history", _login_history),
    ("two_factor", _two_factor),
    ("connected_accounts", _connected_accounts),
    ("audit_log", _audit_log),
)
# Sections of the published format whose domains are not built yet: empty lists until their
# participant (accounts/lifecycle.py) supplies them.
PENDING_SECTIONS = ("notifications", "files")

README = """\
Your {site_name} data
{underline}

Exported {exported_at} for {email} (account id {user_id}).

This archive holds everything {site_name} keeps about you:

  user_data.json   your data as JSON (UTF-8), one key per section:
    profile              your account: name, email, bio, location, links, dates
    preferences          theme, time zone, language, formats, email settings
    sessions             the browsers and apps signed in to your account
    login_history        your last {login_limit} sign-in attempts
    two_factor           whether two-factor authentication is on (no secrets)
    connected_accounts   Google / GitHub accounts linked for sign-in
    audit_log            your last {audit_limit} recorded account actions
{more_sections}  README.txt       this file

No passwords, tokens, backup codes or two-factor secrets are included: {site_name} stores
those only as one-way hashes or encrypted. The JSON format is described (as a JSON Schema)
in the {site_name} documentation, docs/gdpr.md.

Format version {version}.
"""


def data_export_collect(*, user: User, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Everything Keel keeps about the user, as the JSON of `user_data.json` (no secrets).
    `progress` is called with 0–80 as sections are read."""
    data: dict[str, Any] = {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": _iso(timezone.now()),
        "user_id": user.pk,
    }
    _report(progress, 0)
    for index, (key, read) in enumerate(EXPORT_SECTIONS, start=1):
        data[key] = read(user)
        _report(progress, index * 70 // len(EXPORT_SECTIONS))
    data.update({key: [] for key in PENDING_SECTIONS})
    data.update(lifecycle.export_sections(user))  # the other domains' sections
    _report(progress, 80)
    return data


def _readme_more_sections(data: dict[str, Any]) -> str:
    lines = [f"    {key:<20} {text}\n" for key, text in lifecycle.export_readme()]
    pending = [key for key in PENDING_SECTIONS if not data.get(key)]
    if pending:
        lines.append(f"    {', '.join(pending)}   (empty for now)\n")
    return "".join(lines)


def data_export_build(
    *, user: User, out: IO[bytes], progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Write the export ZIP (`user_data.json` + `README.txt`) of the user's data into `out`;
    `progress` goes from 0 to 95 (the caller reports 100 once the file is stored)."""
    from security.system_settings import get_setting

    data = data_export_collect(user=user, progress=progress)
    site_name = str(get_setting("site_name"))
    title = f"Your {site_name} data"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("user_data.json", json.dumps(data, indent=2, ensure_ascii=False))
        _report(progress, 90)
        archive.writestr(
            "README.txt",
            README.format(
                site_name=site_name,
                underline="=" * len(title),
                exported_at=data["exported_at"],
                email=user.email,
                user_id=user.pk,
                login_limit=LOGIN_HISTORY_LIMIT,
                audit_limit=AUDIT_LIMIT,
                more_sections=_readme_more_sections(data),
                version=EXPORT_FORMAT_VERSION,
            ),
        )
    _report(progress, 95)
    return data


def data_export_to_file(*, user: User, path: Path, progress: ProgressCallback | None = None) -> int:
    """Operators (`manage.py export_user_data`): write the same ZIP to a local file readable
    only by its owner. Audited. Returns the file size."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        data_export_build(user=user, out=out, progress=progress)
    _report(progress, 100)
    audit_record(
        actor=None,
        action="data_export_command",
        target_type="user",
        target_id=user.pk,
        metadata={"path": str(path)},
    )
    return path.stat().st_size


# --- Export: the job --------------------------------------------------------------------------


def _export_file_name(user_id: int) -> str:
    return f"exports/{user_id}/{secrets.token_hex(16)}.zip"


def _delete_file(path: str) -> None:
    if not path:
        return
    try:
        private_storage().delete(path)
    except OSError:  # gone already, or the disk refuses: the hourly cleanup tries again
        logger.warning("could not delete export file %s", path, exc_info=True)


def data_export_generate(*, export_id: int) -> DataExport | None:
    """Run an export: processing → ZIP in private storage → completed (+7 days), then the
    `data_export_ready` email and a `notification` event.

    Idempotent: a finished (or vanished) export is left alone; a pending or `processing` one
    — e.g. left by a killed worker — starts over with a new file name (the previous run's
    file is deleted). Only the newest run (by `started_at`) may complete the row. A failure
    puts it back to pending for the retry, or marks it failed after the last attempt."""

    with transaction.atomic():
        export = (
            DataExport.objects.select_for_update()
            .select_related("user")
            .filter(pk=export_id)
            .first()
        )
        if export is None or export.status not in EXPORT_IN_PROGRESS:
            return export
        stale_path = export.file_path
        run_started = timezone.now()
        export.status = ExportStatus.PROCESSING
        export.progress = 0
        export.attempts += 1
        export.started_at = run_started
        export.file_path = _export_file_name(export.user_id)
        export.file_size = None
        export.error_message = ""
        export.save(
            update_fields=[
                "status",
                "progress",
                "attempts",
                "started_at",
                "file_path",
                "file_size",
                "error_message",
            ]
        )
    _delete_file(stale_path)  # a killed run's partial file
    this_run = DataExport.objects.filter(
        pk=export.pk, started_at=run_started, status=ExportStatus.PROCESSING
    )
    shown = {"progress": 0}

    def progress(percent: int) -> None:
        if percent >= shown["progress"] + 5 or percent == 100:  # the page polls this
            shown["progress"] = percent
            this_run.update(progress=percent)

    saved = ""
    try:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buffer:
            data_export_build(user=export.user, out=buffer, progress=progress)
            size = buffer.tell()
            buffer.seek(0)
            saved = private_storage().save(export.file_path, File(buffer))
    except Exception:
        _export_failed(export=export, run_started=run_started, path=saved or export.file_path)
        raise

    now = timezone.now()
    with transaction.atomic():
        current = DataExport.objects.select_for_update().filter(pk=export.pk).first()
        if (
            current is None
            or current.started_at != run_started
            or current.status != ExportStatus.PROCESSING
        ):  # a newer run took over (or the user is gone): this file is not the export
            transaction.on_commit(lambda: _delete_file(saved))
            return current
        current.status = ExportStatus.COMPLETED
        current.progress = 100
        current.file_path = saved
        current.file_size = size
        current.completed_at = now
        current.expires_at = now + EXPORT_LIFETIME
        current.save(
            update_fields=[
                "status",
                "progress",
                "file_path",
                "file_size",
                "completed_at",
                "expires_at",
            ]
        )
        audit_record(
            actor=None,
            action="data_export_complete",
            target_type="data_export",
            target_id=current.pk,
            metadata={"user_id": current.user_id, "file_size": size},
        )
        realtime.publish_to_user(
            current.user_id,
            "notification",
            {
                "id": f"data_export:{current.pk}",
                "title": "Your data export is ready",
                "message": "Download it from Settings → Privacy within 7 days.",
                "type": "success",
                "timestamp": _iso(now),
                "data": {"category": "privacy", "link": "/settings/privacy/"},
            },
        )
        tasks.send_data_export_ready_email.enqueue(export_id=current.pk)
    return current


def _export_failed(*, export: DataExport, run_started: datetime, path: str) -> None:
    """A run raised: back to pending for the job's retry, or failed after the last attempt."""
    final = export.attempts >= EXPORT_MAX_ATTEMPTS
    with transaction.atomic():
        current = (
            DataExport.objects.select_for_update()
            .filter(pk=export.pk, started_at=run_started, status=ExportStatus.PROCESSING)
            .first()
        )
        if current is not None:
            current.status = ExportStatus.FAILED if final else ExportStatus.PENDING
            current.progress = 0
            current.file_path = ""
            current.error_message = EXPORT_FAILED_MESSAGE if final else ""
            current.save(update_fields=["status", "progress", "file_path", "error_message"])
            if final:
                audit_record(
                    actor=None,
                    action="data_export_failed",
                    target_type="data_export",
                    target_id=current.pk,
                    metadata={"user_id": current.user_id, "attempts": current.attempts},
                )
    _delete_file(path)


def data_export_cleanup() -> int:
    """Hourly: delete the files of exports that expired more than 24 h ago (status
    `expired`), and fail exports stuck in progress for hours (their job is gone for good).
    Returns how many exports changed."""
    now = timezone.now()
    changed = 0
    old = DataExport.objects.filter(expires_at__lt=now - EXPORT_FILE_GRACE).filter(
        Q(status=ExportStatus.COMPLETED) | ~Q(file_path="")
    )
    for export in old.exclude(status__in=EXPORT_IN_PROGRESS):
        _delete_file(export.file_path)
        DataExport.objects.filter(pk=export.pk).update(status=ExportStatus.EXPIRED, file_path="")
        changed += 1
    stuck = DataExport.objects.annotate(since=Coalesce("started_at", "requested_at")).filter(
        status__in=EXPORT_IN_PROGRESS, since__lt=now - EXPORT_STALE_AFTER
    )
    for export in stuck:
        _delete_file(export.file_path)
        updated = DataExport.objects.filter(
            pk=export.pk, status__in=EXPORT_IN_PROGRESS, started_at=export.started_at
        ).update(
            status=ExportStatus.FAILED,
            progress=0,
            file_path="",
            error_message=EXPORT_STALE_MESSAGE,
        )
        changed += updated
    return changed


# --- Deletion with grace ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionStatus:
    requested: bool
    requested_at: datetime | None = None
    scheduled_for: datetime | None = None
    reason: str | None = None


def account_deletion_status(*, user: User) -> DeletionStatus:
    """Whether the account is scheduled for deletion, when, and why (contract §3.7), read
    from the database (the request's user object may predate a change)."""
    row = (
        User.objects.filter(pk=user.pk)
        .values("deletion_requested_at", "deletion_scheduled_at", "deletion_reason")
        .first()
    )
    if row is None or row["deletion_requested_at"] is None:
        return DeletionStatus(requested=False)
    return DeletionStatus(
        requested=True,
        requested_at=row["deletion_requested_at"],
        scheduled_for=row["deletion_scheduled_at"],
        reason=row["deletion_reason"] or None,
    )


def _deletion_confirm(user: User, password: str | None, confirmation: str | None) -> None:
    """Accounts with a password confirm with it; others (OAuth-only) type DELETE."""
    if user.has_usable_password():
        if not password:
            raise ValidationFailed.for_field("password", "Password is required", code="required")
        if not user.check_password(password):
            raise ValidationFailed.for_field("password", "Incorrect password")
    elif (confirmation or "").strip() != DELETION_CONFIRMATION:
        raise ValidationFailed.for_field(
            "confirmation", f'Type "{DELETION_CONFIRMATION}" to confirm', code="required"
        )


def account_deletion_request(
    *,
    user: User,
    password: str | None = None,
    confirmation: str | None = None,
    reason: str = "",
) -> DeletionStatus:
    """Schedule the account's deletion in 14 days (400 VALIDATION_ERROR "password: Incorrect
    password"; 409 if the purge could not delete an organization the user is alone in because
    it still has a subscription); a repeat returns the existing request. Audits, notifies,
    emails."""

    _deletion_confirm(user, password, confirmation)
    if reason and "\x00" in reason:
        raise ValidationFailed.for_field("reason", "Null characters are not allowed")
    with transaction.atomic():
        last_super_admin_guard(user, super_admins_lock(), "delete")
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.deletion_requested_at is not None:
            return account_deletion_status(user=user)
        blockers = lifecycle.deletion_blockers(user)
        if blockers:
            raise Conflict(" ".join(blockers))
        now = timezone.now()
        user.deletion_requested_at = now
        user.deletion_scheduled_at = now + DELETION_GRACE
        user.deletion_reason = (reason or "").strip()[:DELETION_REASON_MAX]
        user.save(
            update_fields=[
                "deletion_requested_at",
                "deletion_scheduled_at",
                "deletion_reason",
                "updated_at",
            ]
        )
        audit_record(
            actor=user,
            action="deletion_requested",
            target_type="user",
            target_id=user.pk,
            metadata={"scheduled_for": _iso(user.deletion_scheduled_at)},
        )
        realtime.publish_to_user(
            user.pk,
            "notification",
            {
                "id": f"account_deletion:{user.pk}:{int(now.timestamp())}",
                "title": "Account deletion scheduled",
                "message": (
                    f"Your account will be deleted on {user.deletion_scheduled_at:%d %b %Y}. "
                    "Sign in or cancel in Settings → Privacy to keep it."
                ),
                "type": "warning",
                "timestamp": _iso(now),
                "data": {"category": "security", "link": "/settings/privacy/"},
            },
        )
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
        tasks.send_account_deletion_email.enqueue(user_id=user.pk, kind="requested")
    return account_deletion_status(user=user)


def account_deletion_cancel(*, user: User) -> bool:
    """Cancel a scheduled deletion (idempotent: False when none was scheduled). Audits,
    notifies, emails `account_deletion_cancelled`."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.deletion_requested_at is None:
            return False
        user.deletion_requested_at = user.deletion_scheduled_at = None
        user.deletion_reason = ""
        user.save(
            update_fields=[
                "deletion_requested_at",
                "deletion_scheduled_at",
                "deletion_reason",
                "updated_at",
            ]
        )
        audit_record(actor=user, action="deletion_cancelled", target_type="user", target_id=user.pk)
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
        account_deletion_cancelled_notify(user_id=user.pk)
    return True


def deletion_due_list(*, now: datetime | None = None) -> QuerySet[User]:
    """Accounts whose grace period is over (purged by the daily job)."""
    return User.objects.filter(
        deletion_requested_at__isnull=False,
        deletion_scheduled_at__lte=now or timezone.now(),
    ).order_by("deletion_scheduled_at", "id")


def deletion_reminder_list(*, now: datetime | None = None) -> QuerySet[User]:
    """Accounts the next daily purge will delete: scheduled after the last purge time and up
    to the next one. Each account falls in exactly one day's window, so one reminder each."""
    now = now or timezone.now()
    last_purge = now.astimezone(UTC).replace(
        hour=PURGE_AT.hour, minute=PURGE_AT.minute, second=0, microsecond=0
    )
    if last_purge > now:
        last_purge -= timedelta(days=1)
    return User.objects.filter(
        deletion_requested_at__isnull=False,
        deletion_scheduled_at__gt=last_purge,
        deletion_scheduled_at__lte=last_purge + timedelta(days=1),
    ).order_by("deletion_scheduled_at", "id")


# --- Purge ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    user_id: int
    email: str
    details: dict[str, Any] = field(default_factory=dict)  # the participants' audit metadata


def account_purge_plan(*, user: User) -> list[str]:
    """What the purge would do besides deleting the account, in lines (for a dry run)."""
    return lifecycle.purge_plan(user)


def account_purge(*, user: User) -> PurgeResult | None:
    """Delete the account for good (contract §3.8): hand each sole-owner organization to its
    earliest-joined admin (else member) or delete it when nobody else is in it, cancel personal
    subscriptions, end every session, hard-delete the user (audit entries stay, actor NULL),
    delete their export files and avatar, email `account_deleted`. None if already gone.
    The other domains do their part through accounts.lifecycle (organizations: hand over each
    sole-owner organization). Raises (nothing changed) if one of them cannot (e.g. an
    organization with a live subscription)."""

    with transaction.atomic():
        super_admins = super_admins_lock()
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            return None
        user = locked
        last_super_admin_guard(user, super_admins, "delete")
        user_id, email, name = user.pk, user.email, user.name
        blockers = lifecycle.deletion_blockers(user)
        if blockers:
            raise Conflict(" ".join(blockers))
        steps = lifecycle.purge(user)
        details = {key: value for step in steps for key, value in step.metadata.items()}
        sessions.sessions_revoke_all(user=user, reason="account_deleted")
        files = [
            p for p in DataExport.objects.filter(user=user).values_list("file_path", flat=True) if p
        ]
        avatar = user.avatar
        audit_record(
            actor=None,
            action="account_purge",
            target_type="user",
            target_id=user_id,
            metadata={"requested_at": _iso(user.deletion_requested_at), **details},
        )
        user.delete()
        for step in steps:
            if step.after_delete is not None:
                step.after_delete()
        realtime.close_user_sockets(user_id)
        tasks.send_account_deletion_email.enqueue(kind="deleted", email=email, name=name)

        def after_commit() -> None:
            user_cache_clear(user_id)
            for path in files:
                _delete_file(path)
            if avatar:
                from django.core.files.storage import default_storage

                default_storage.delete(avatar)

        transaction.on_commit(after_commit)
    return PurgeResult(user_id=user_id, email=email, details=details)
