"""`manage.py export_user_data <email> [--output path]`: the GDPR export, synchronously."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.commands._progress import ProgressBar
from accounts.models import User
from accounts.privacy import services as privacy


class Command(BaseCommand):
    help = (
        "Write a user's data export (the same ZIP as the export job: user_data.json + "
        "README.txt) to a local file, showing progress. The file is readable only by you."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The account's email address.")
        parser.add_argument(
            "--output",
            "-o",
            help="Where to write the ZIP (default: ./user_data_<user id>.zip).",
        )

    def handle(self, *args: Any, email: str, output: str | None = None, **options: Any) -> None:
        user = User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
        if user is None:
            raise CommandError(f"No account with the email address {email!r}.")
        name = privacy.data_export_file_name(user=user)
        path = Path(output) if output else Path(name)
        if path.is_dir():
            path = path / name
        if not path.parent.exists():
            raise CommandError(f"The directory {str(path.parent)!r} does not exist.")
        self.stdout.write(f"Exporting the data of {user.email} (id {user.pk})")
        bar = ProgressBar(self.stdout)
        size = privacy.data_export_to_file(user=user, path=path, progress=bar)
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"Wrote {path} ({size} bytes)"))
