"""The `ORGANIZATION_MEMBERS_CHANGED` hook (billing's per-seat quantity listens on it) runs
after the commit, robustly: a participant that fails is logged and the change stands."""

from __future__ import annotations

import pytest

from organizations import access
from organizations.models import Membership

pytestmark = pytest.mark.django_db
CALLS: list[int] = []


def failing_participant(*, organization_id: int) -> None:
    raise RuntimeError("the job queue is down")


def recording_participant(*, organization_id: int) -> None:
    CALLS.append(organization_id)


@pytest.fixture
def participants(settings):
    def use(*paths: str) -> None:
        settings.ORGANIZATION_MEMBERS_CHANGED = list(paths)
        access._members_changed_hooks.cache_clear()

    yield use
    access._members_changed_hooks.cache_clear()


def test_participants_hear_of_a_membership_change_after_the_commit(
    participants, as_user, alice, bob, acme, django_capture_on_commit_callbacks
):
    participants(f"{__name__}.recording_participant")
    CALLS.clear()
    with django_capture_on_commit_callbacks(execute=False) as pending:
        response = as_user(alice).delete(f"/api/v1/organizations/acme/members/{bob.pk}")
    assert response.status_code == 200
    assert CALLS == []  # nothing before the commit
    for callback in pending:
        callback()
    assert [acme.pk] == CALLS


def test_a_failing_participant_does_not_undo_or_fail_the_change(
    participants, as_user, alice, bob, acme, django_capture_on_commit_callbacks, caplog
):
    participants(f"{__name__}.failing_participant", f"{__name__}.recording_participant")
    CALLS.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(alice).delete(f"/api/v1/organizations/acme/members/{bob.pk}")
    assert response.status_code == 200
    assert not Membership.objects.filter(organization=acme, user=bob).exists()
    assert "members_changed participant failed" in caplog.text
    assert [acme.pk] == CALLS  # the other participants still heard of it
