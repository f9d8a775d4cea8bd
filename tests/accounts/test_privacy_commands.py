"""Operator commands of the privacy features (issue 5 item 10): `export_user_data` and
`purge_deleted_users`."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from organizations.models import Membership, Organization, OrgRole
from security.models import AuditLog
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def due(user: User, *, minutes: int = -1) -> None:
    """Schedule the user's deletion `minutes` from now (negative: overdue)."""
    when = timezone.now() + timedelta(minutes=minutes)
    User.objects.filter(pk=user.pk).update(
        deletion_requested_at=when - timedelta(days=14), deletion_scheduled_at=when
    )


# --- export_user_data --------------------------------------------------------------------------


def test_export_user_data_writes_the_zip_with_a_progress_bar(alice, tmp_path):
    target = tmp_path / "alice.zip"
    out, _ = run("export_user_data", "ALICE@example.com", "--output", str(target))

    with zipfile.ZipFile(target) as archive:
        assert set(archive.namelist()) == {"user_data.json", "README.txt"}
        data = json.loads(archive.read("user_data.json"))
    assert data["profile"]["email"] == "alice@example.com"
    assert "\r[" in out and "] 100%" in out
    assert "[" + "#" * 30 + "] 100%" in out
    assert f"Wrote {target}" in out
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert AuditLog.objects.filter(
        action="data_export_command", target_id=str(alice.pk), actor=None
    ).exists()


def test_export_user_data_into_a_directory_names_the_file_after_the_user(alice, tmp_path):
    run("export_user_data", alice.email, "-o", str(tmp_path))
    assert (tmp_path / f"user_data_{alice.pk}.zip").is_file()


def test_export_user_data_refuses_an_unknown_address(db, tmp_path):
    with pytest.raises(CommandError, match="No account"):
        run("export_user_data", "nobody@example.com", "-o", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()


def test_export_user_data_refuses_a_missing_directory(alice, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run("export_user_data", alice.email, "-o", str(tmp_path / "nope" / "x.zip"))


# --- purge_deleted_users -----------------------------------------------------------------------


def test_purge_says_so_when_nothing_is_due(alice):
    due(alice, minutes=60)
    out, _ = run("purge_deleted_users")
    assert "No accounts are due for deletion." in out
    assert User.objects.filter(pk=alice.pk).exists()


def test_a_dry_run_lists_accounts_and_org_handovers_and_changes_nothing(alice, acme, bob):
    solo = OrganizationFactory(slug="solo")
    MembershipFactory(organization=solo, user=alice, role=OrgRole.OWNER)
    due(alice)

    out, _ = run("purge_deleted_users", "--dry-run")

    assert "Would purge 1 account(s):" in out
    assert "alice@example.com" in out
    assert "organization acme: ownership to bob@example.com" in out
    assert "organization solo: deleted (no other member)" in out
    assert "Dry run: nothing was changed." in out
    assert User.objects.filter(pk=alice.pk).exists()
    assert Membership.objects.get(organization=acme, user=bob).role == OrgRole.MEMBER
    assert Organization.objects.get(pk=solo.pk).deleted_at is None
    assert not mail.outbox


def test_purge_deletes_due_accounts_with_progress(
    alice, acme, bob, charlie, django_capture_on_commit_callbacks
):
    due(alice)
    due(charlie, minutes=-30)
    due(bob, minutes=60 * 24)  # not yet

    with django_capture_on_commit_callbacks(execute=True):
        out, err = run("purge_deleted_users")

    assert "Purging 2 account(s):" in out
    assert "] 100% 2/2" in out
    assert "Purged 2 account(s)." in out
    assert not err
    assert set(User.objects.values_list("email", flat=True)) == {"bob@example.com"}
    assert Membership.objects.get(organization=acme, user=bob).role == OrgRole.OWNER
    goodbye = {m.to[0] for m in mail.outbox if "has been deleted" in m.subject}
    assert goodbye == {"alice@example.com", "charlie@example.com"}


def test_purge_reports_a_failure_and_goes_on(alice, bob, monkeypatch):
    from accounts.privacy import services as privacy

    due(alice, minutes=-5)
    due(bob)
    real = privacy.account_purge

    def flaky(*, user):
        if user.pk == alice.pk:
            raise RuntimeError("locked")
        return real(user=user)

    monkeypatch.setattr(privacy, "account_purge", flaky)
    out, err = run("purge_deleted_users")
    assert "Could not purge alice@example.com: locked" in err
    assert "Purged 1 account(s)." in out
    assert User.objects.filter(pk=alice.pk).exists()
    assert not User.objects.filter(pk=bob.pk).exists()
