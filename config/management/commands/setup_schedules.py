from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.jobs import sync_schedules


class Command(BaseCommand):
    help = "Create or update the django-q2 schedules declared in code (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = sync_schedules()
        for key in ("created", "updated", "deleted", "unchanged"):
            names = report[key]
            if names:
                self.stdout.write(f"{key:>9}: {', '.join(sorted(names))}")
        self.stdout.write(self.style.SUCCESS("Schedules are up to date."))
