from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from organizations.models import Membership

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_three_demo_users(settings):
    call_command("seed_demo", "--quiet")
    users = {u.email: u for u in User.objects.all()}
    assert users["superadmin@example.com"].role == Role.SUPER_ADMIN
    assert users["admin@example.com"].is_staff
    assert users["user@example.com"].check_password(settings.SEED_DEFAULT_PASSWORD)
    assert users["superadmin@example.com"].check_password(settings.SEED_ADMIN_PASSWORD)


def test_seed_demo_is_idempotent():
    call_command("seed_demo", "--quiet")
    call_command("seed_demo", "--quiet")
    assert User.objects.count() == 3
    assert Membership.objects.count() == 2


def test_seed_demo_uses_the_configured_passwords(settings):
    settings.SEED_DEFAULT_PASSWORD = "Another-Pass-9"
    call_command("seed_demo", "--quiet")
    assert User.objects.get(email="user@example.com").check_password("Another-Pass-9")


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_seed_demo_prints_the_credentials(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "superadmin@example.com" in out and "Admin123!" in out


def test_seed_demo_names_the_demo_site_unless_staff_named_it():
    from security.services import system_settings_update
    from security.system_settings import get_setting, invalidate_local

    call_command("seed_demo", "--quiet")
    invalidate_local()
    assert get_setting("site_name") == "Keel Demo"
    system_settings_update(values={"site_name": "Acme Cloud"}, actor=None)
    call_command("seed_demo", "--quiet")
    invalidate_local()
    assert get_setting("site_name") == "Acme Cloud"
