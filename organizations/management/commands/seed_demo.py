"""Idempotent demo data for development. Refuses to run in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from organizations.models import Membership, Organization, OrgRole
from security.models import SystemSetting
from security.services import system_settings_update

DEMO_SITE_NAME = "Keel Demo"

DEMO_USERS = [
    ("superadmin@example.com", "Super Admin", Role.SUPER_ADMIN, "SEED_ADMIN_PASSWORD"),
    ("admin@example.com", "Admin User", Role.ADMIN, "SEED_ADMIN_PASSWORD"),
    ("user@example.com", "Demo User", Role.USER, "SEED_DEFAULT_PASSWORD"),
]


class Command(BaseCommand):
    help = "Create the demo users and organization (idempotent; never in production)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the credentials.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("seed_demo refuses to run with ENVIRONMENT=production/staging.")
        with transaction.atomic():
            users = {}
            created = []
            for email, name, role, password_setting in DEMO_USERS:
                user = User.objects.alive().filter(email=email).first()
                if user is None:
                    user = User.objects.create_user(
                        email,
                        getattr(settings, password_setting),
                        name=name,
                        role=role,
                        email_verified=True,
                        email_verified_at=timezone.now(),
                    )
                    created.append(email)
                users[email] = user
            org, _ = Organization.objects.get_or_create(
                slug="demo",
                deleted_at=None,
                defaults={"name": "Demo Organization", "created_by": users["admin@example.com"]},
            )
            for email, org_role in (
                ("admin@example.com", OrgRole.OWNER),
                ("user@example.com", OrgRole.MEMBER),
            ):
                Membership.objects.get_or_create(
                    organization=org,
                    user=users[email],
                    defaults={"role": org_role, "joined_at": timezone.now()},
                )
            # The demo's name on pages and in emails, unless staff have already named the site.
            if not SystemSetting.objects.filter(key="site_name", is_customized=True).exists():
                system_settings_update(values={"site_name": DEMO_SITE_NAME}, actor=None)
        if options["quiet"]:
            return
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({len(created)} users created)."))
        self.stdout.write("  Development sign-ins (SEED_ADMIN_PASSWORD / SEED_DEFAULT_PASSWORD):")
        for email, _, role, password_setting in DEMO_USERS:
            self.stdout.write(f"    {email:<26} {getattr(settings, password_setting):<14} ({role})")
        self.stdout.write(
            "  Organization: demo (admin@example.com owns it, user@example.com is a member)"
        )
