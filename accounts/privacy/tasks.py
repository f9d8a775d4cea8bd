"""Jobs of the privacy features: GDPR data export and account deletion (contract §3.6–3.8, §14).

| Job | Trigger |
|---|---|
| `generate_data_export` | an export request (3 retries; idempotent, see privacy.py) |
| `send_data_export_ready_email` | an export completed |
| `send_account_deletion_email` | deletion requested / cancelled / reminder / purged |
| `cleanup_expired_exports` | hourly |
| `purge_deleted_accounts`, `send_account_deletion_reminders` | daily at 03:00 UTC |
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import DataExport, ExportStatus, User
from accounts.privacy import services as privacy
from config.emails import email_send
from config.jobs import periodic, task

logger = logging.getLogger("keel.privacy")

EMAIL_RETRIES = 5
DELETION_EMAILS = {
    "requested": "account_deletion_requested",
    "cancelled": "account_deletion_cancelled",
    "reminder": "account_deletion_reminder",
    "deleted": "account_deleted",
}


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


@task(retries=privacy.EXPORT_RETRIES)
def generate_data_export(*, export_id: int) -> str | None:
    """Build the export's ZIP in private storage and mark it completed (or failed at last)."""
    export = privacy.data_export_generate(export_id=export_id)
    return export.status if export is not None else None


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
    user = User.objects.alive().filter(pk=user_id).first()
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


@periodic("cleanup_expired_exports", hourly=True)
def cleanup_expired_exports() -> int:
    """Delete the files of exports expired for over 24 h (→ `expired`); fail stuck ones."""
    return privacy.data_export_cleanup()


@periodic("purge_deleted_accounts", daily_at=privacy.PURGE_AT)
def purge_deleted_accounts() -> int:
    """Purge every account whose 14-day grace period is over (contract §3.8)."""
    purged = 0
    for user in privacy.deletion_due_list():
        try:
            if privacy.account_purge(user=user) is not None:
                purged += 1
        except Exception:  # one account must not stop the others; it is retried tomorrow
            logger.exception("could not purge account %s", user.pk)
    return purged


@periodic("send_account_deletion_reminders", daily_at=privacy.PURGE_AT)
def send_account_deletion_reminders() -> int:
    """Remind each account the next daily purge will delete (about a day before)."""
    user_ids = list(privacy.deletion_reminder_list().values_list("pk", flat=True))
    for user_id in user_ids:
        send_account_deletion_email.enqueue(user_id=user_id, kind="reminder")
    return len(user_ids)
