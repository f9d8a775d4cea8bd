"""A domain joins an account's lifecycle by adding a participant (accounts/lifecycle.py): its
export section, deletion blocker, purge step and staff numbers reach accounts' flows without
accounts importing it."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from django.db import transaction

from accounts import lifecycle
from accounts.lifecycle import AccountParticipant, PurgeStep
from accounts.models import User
from accounts.privacy import services as privacy
from security.models import AuditLog
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
CALLS: list[tuple[str, Any]] = []


class Files(AccountParticipant):
    """A stand-in for the files domain."""

    export_readme = (("files", "the files you uploaded"),)
    blocked = False

    def export(self, user: User) -> dict[str, Any]:
        return {"files": [{"name": f"{user.pk}.txt"}]}

    def deletion_blockers(self, user: User) -> list[str]:
        return ["Files are still being scanned."] if Files.blocked else []

    def purge_plan(self, user: User) -> list[str]:
        return ["files: 1 deleted"]

    def purge(self, user: User) -> PurgeStep:
        CALLS.append(("purge", User.objects.filter(pk=user.pk).exists()))
        return PurgeStep(
            metadata={"files_deleted": 1},
            after_delete=lambda: CALLS.append(("after", User.objects.filter(pk=user.pk).exists())),
        )

    def staff_stats(self) -> dict[str, int]:
        return {"total_files": 3, "total_file_size": 42}


@pytest.fixture(autouse=True)
def files_participant(settings):
    settings.ACCOUNT_LIFECYCLE_PARTICIPANTS = [
        *settings.ACCOUNT_LIFECYCLE_PARTICIPANTS,
        "tests.accounts.test_lifecycle.Files",
    ]
    lifecycle.participants.cache_clear()
    CALLS.clear()
    Files.blocked = False
    yield
    lifecycle.participants.cache_clear()


def test_the_export_carries_the_participants_sections_and_readme(alice, acme):
    out = io.BytesIO()
    privacy.data_export_build(user=alice, out=out)
    with zipfile.ZipFile(out) as archive:
        data = json.loads(archive.read("user_data.json"))
        readme = archive.read("README.txt").decode()
    assert data["files"] == [{"name": f"{alice.pk}.txt"}]
    assert [m["organization_slug"] for m in data["memberships"]] == ["acme"]  # organizations'
    assert data["notifications"] == []  # not built yet: empty
    assert data["usage"] == []  # usage's participant: alice has recorded nothing
    assert "files                the files you uploaded" in readme
    assert "memberships          the organizations you belong to" in readme
    assert "usage                your personal usage per month" in readme
    assert "notifications   (empty for now)" in readme


def test_a_blocker_refuses_the_deletion_request_with_its_reason(alice):
    from rest_framework.test import APIClient

    Files.blocked = True
    client = APIClient()
    client.force_authenticate(alice)
    response = client.post("/api/v1/users/me/delete", {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 409
    assert response.json()["message"] == "Files are still being scanned."
    alice.refresh_from_db()
    assert alice.deletion_requested_at is None


def test_the_purge_runs_each_step_around_the_row_deletion_and_audits_it(alice):
    assert privacy.account_purge_plan(user=alice) == ["files: 1 deleted"]
    with transaction.atomic():
        result = privacy.account_purge(user=alice)
    assert CALLS == [("purge", True), ("after", False)]
    assert result.details["files_deleted"] == 1
    entry = AuditLog.objects.get(action="account_purge", target_id=str(result.user_id))
    assert entry.metadata["files_deleted"] == 1
    assert entry.metadata["organizations_deleted"] == []


def test_a_blocker_stops_the_purge_before_anything_changes(alice):
    Files.blocked = True
    with pytest.raises(Exception, match="scanned"):
        privacy.account_purge(user=alice)
    assert CALLS == []
    assert User.objects.filter(pk=alice.pk).exists()


def test_staff_stats_add_the_participants_numbers(acme, globex):
    from accounts.staff.services import admin_stats

    stats = admin_stats()
    assert stats["total_files"] == 3 and stats["total_file_size"] == 42
    assert stats["total_organizations"] == 2
    assert stats["total_subscriptions"] == 0
