"""`manage.py create_user`: an operator creates an account (any role) from the console.

    manage.py create_user --email ops@example.com --name "Olga Ops" --role super_admin
    manage.py create_user --email a@example.com --name A --password 'S3cure-pass'
    manage.py create_user --email b@example.com --name B --no-password   # emails a reset link

Goes through `accounts.staff.services.user_create` (password policy, audit entry, verified address),
like `POST /users`. Without --password or --no-password it asks for the password (twice) when
run in a terminal.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Role
from accounts.staff import services as staff
from config.errors import DomainError


class Command(BaseCommand):
    help = "Create a user account (verified address); with --no-password, email a reset link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.USER)
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument("--password", help="the password (visible in the shell history)")
        secret.add_argument(
            "--no-password",
            action="store_true",
            help="create the account without a password and email a link to set one",
        )

    def handle(self, *args: Any, **options: Any) -> None:

        password = options["password"]
        if password is None and not options["no_password"]:
            password = self._ask_password()
        try:
            user = staff.user_create(
                actor=None,
                name=options["name"],
                email=options["email"],
                password=password or None,
                role=options["role"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created user {user.pk} <{user.email}> with role {user.role}.")
        )
        if password:
            self.stdout.write("They can sign in with the password given.")
        else:
            self.stdout.write(
                f"No password set: a link to choose one was emailed to {user.email} "
                "(valid for 1 hour; they can ask for another on the reset-password page)."
            )

    def _ask_password(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError("Give --password or --no-password (no terminal to ask in).")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        if not first:
            raise CommandError("Empty password; use --no-password to email a reset link.")
        return first
