"""Jobs of the privacy features: GDPR data export and account deletion (contract §3.6–3.8, §14).

| Job | Trigger |
|---|---|
| `generate_data_export` | an export request (3 retries; idempotent, see privacy.py) |
| `cleanup_expired_exports` | hourly |
| `purge_deleted_accounts`, `send_account_deletion_reminders` | daily at 03:00 UTC |

Their emails (`send_data_export_ready_email`, `send_account_deletion_email`) are jobs of
`accounts.core.tasks`, with the other account emails.
"""

from __future__ import annotations

import logging

from accounts.core import tasks
from accounts.privacy import services as privacy
from config.jobs import periodic, task

logger = logging.getLogger("keel.privacy")


@task(retries=privacy.EXPORT_RETRIES)
def generate_data_export(*, export_id: int) -> str | None:
    """Build the export's ZIP in private storage and mark it completed (or failed at last)."""
    export = privacy.data_export_generate(export_id=export_id)
    return export.status if export is not None else None


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
        tasks.send_account_deletion_email.enqueue(user_id=user_id, kind="reminder")
    return len(user_ids)
