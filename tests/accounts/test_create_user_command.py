"""`manage.py create_user` (issue 5, item 10): operators create accounts through the services."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from security.models import AuditLog
from tests.accounts.helpers import last_email_to

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_user", *args, stdout=out)
    return out.getvalue()


def test_it_creates_a_verified_user_with_a_password():
    output = run("--email", "Ops@Example.com", "--name", "Olga Ops", "--password", "Sup3r-secret")
    user = User.objects.get(email="ops@example.com")
    assert user.name == "Olga Ops" and user.role == Role.USER
    assert user.email_verified and user.check_password("Sup3r-secret")
    assert f"Created user {user.pk} <ops@example.com> with role user." in output
    assert "sign in with the password" in output
    # accounts.auth.services.user_create records a console creation as the user's own
    assert AuditLog.objects.filter(action="user_create", target_id=str(user.pk)).exists()


def test_it_sets_the_role():
    run(
        "--email",
        "root@example.com",
        "--name",
        "Root",
        "--role",
        "super_admin",
        "--password",
        "Sup3r-secret",
    )
    user = User.objects.get(email="root@example.com")
    assert user.role == Role.SUPER_ADMIN and user.is_staff and user.is_superuser


def test_without_a_password_it_emails_a_link_to_set_one(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run("--email", "new@example.com", "--name", "New", "--no-password")
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    assert "a link to choose one was emailed to new@example.com" in output
    assert "/reset-password?token=" in last_email_to("new@example.com").body


def test_it_refuses_a_taken_email(alice):
    with pytest.raises(CommandError, match="already exists"):
        run("--email", "ALICE@example.com", "--name", "A", "--password", "Sup3r-secret")


def test_it_applies_the_password_policy():
    with pytest.raises(CommandError, match="at least 8 characters"):
        run("--email", "weak@example.com", "--name", "W", "--password", "Sh0rt")
    assert not User.objects.filter(email="weak@example.com").exists()


def test_it_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="invalid choice"):
        run("--email", "x@example.com", "--name", "X", "--role", "emperor", "--no-password")


def test_it_refuses_a_blank_name():
    with pytest.raises(CommandError, match="name"):
        run("--email", "x@example.com", "--name", "  ", "--no-password")


def test_password_and_no_password_are_exclusive():
    with pytest.raises(CommandError, match="not allowed with"):
        run(
            "--email", "x@example.com", "--name", "X", "--password", "Sup3r-secret", "--no-password"
        )


def test_without_a_terminal_it_asks_for_one_of_the_password_options(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--password or --no-password"):
        run("--email", "x@example.com", "--name", "X")


def test_in_a_terminal_it_asks_for_the_password_twice(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["Sup3r-secret", "Sup3r-secret"])
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("--email", "tty@example.com", "--name", "T")
    assert User.objects.get(email="tty@example.com").check_password("Sup3r-secret")


def test_in_a_terminal_mismatched_passwords_are_refused(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["Sup3r-secret", "Other-secret1"])
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        run("--email", "tty@example.com", "--name", "T")
