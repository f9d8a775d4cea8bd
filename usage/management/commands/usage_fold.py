"""`manage.py usage_fold`: fold the buffered API calls into the usage periods now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.management.commands._progress import ProgressBar
from usage.services import usage_fold


class Command(BaseCommand):
    help = "Fold the buffered API calls into the usage periods now (docs/usage.md)."

    def handle(self, *args: Any, **options: Any) -> None:
        bar = ProgressBar(self.stdout, label="buffer batches")
        folded = usage_fold(progress=lambda done, total: bar(done * 100 // max(total, 1)))
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"Folded {folded:,} API call(s)."))
