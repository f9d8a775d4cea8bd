"""`manage.py purge_deleted_users [--dry-run]`: what the daily `purge_deleted_accounts` job does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.management.commands._progress import ProgressBar
from accounts.privacy import services as privacy


class Command(BaseCommand):
    help = (
        "Purge the accounts whose deletion grace period is over (contract §3.8): sole-owner "
        "organizations are handed over or deleted, the users are deleted for good. "
        "--dry-run only lists what would happen."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List the accounts and change nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        due = list(privacy.deletion_due_list())
        if not due:
            self.stdout.write("No accounts are due for deletion.")
            return
        verb = "Would purge" if dry_run else "Purging"
        self.stdout.write(f"{verb} {len(due)} account(s):")
        for user in due:
            scheduled = f"{user.deletion_scheduled_at:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(f"  - {user.email} (id {user.pk}, scheduled for {scheduled})")
            for line in privacy.account_purge_plan(user=user):
                self.stdout.write(f"      {line}")
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
            return
        bar = ProgressBar(self.stdout, label=f"0/{len(due)}")
        bar(0)
        purged, failed = 0, []
        for index, user in enumerate(due, start=1):
            try:
                if privacy.account_purge(user=user) is not None:
                    purged += 1
            except Exception as exc:  # report and go on with the others
                failed.append(f"{user.email}: {exc}")
            bar.label = f"{index}/{len(due)}"
            bar.percent = -1
            bar(index * 100 // len(due))
        bar.finish()
        for line in failed:
            self.stderr.write(self.style.ERROR(f"Could not purge {line}"))
        self.stdout.write(self.style.SUCCESS(f"Purged {purged} account(s)."))
