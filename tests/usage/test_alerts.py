"""Usage alerts (contract §6.4): 80/90/100 % of a limit, once per scope, type, metric and
period; `exceeded` sets `limits_exceeded`; `usage_alert` goes to the user or to the org's owners
and admins; listing and acknowledging are scoped to their owners (404 otherwise)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.auth import sessions
from tests.factories import MembershipFactory, UserFactory
from tests.usage.conftest import record
from usage.alerts import limits_check
from usage.models import UsageAlert, UsagePeriod
from usage.periods import Scope, month_of
from usage.services import usage_fold

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="203.0.113.9", user_agent="pytest")


def test_thresholds_create_each_alert_once_and_exceeded_sets_the_flag(
    as_user, alice, django_capture_on_commit_callbacks, realtime
):
    realtime.listen(users=(alice,))
    client = as_user(alice)
    with django_capture_on_commit_callbacks(execute=True):
        record(client, event_type="file_upload", resource="r", quantity=79)
    assert not UsageAlert.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        record(client, event_type="file_upload", resource="r", quantity=1)
    assert list(UsageAlert.objects.values_list("alert_type", "usage_type")) == [
        ("warning_80", "file_upload")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        record(client, event_type="file_upload", resource="r", quantity=25)  # 105 %: 90 and 100
    assert sorted(UsageAlert.objects.values_list("alert_type", flat=True)) == [
        "exceeded", "warning_80", "warning_90",
    ]  # fmt: skip
    assert UsagePeriod.objects.get().limits_exceeded is True
    assert client.get("/api/v1/usage").json()["limits_exceeded"] is True
    alerts = realtime.received(alice, "usage_alert")
    assert [a["alertType"] for a in alerts] == ["warning_80", "warning_90", "exceeded"]
    assert alerts[-1]["message"].startswith("You have exceeded your file uploads limit")
    assert (alerts[-1]["canUpgrade"], alerts[-1]["suggestedPlan"]) == (True, "pro")
    assert alerts[-1]["upgradeUrl"] == "/settings/billing"
    # Checked again (the sweep, another fold): nothing new.
    assert limits_check(scope=Scope(user_id=alice.pk)) == []
    assert UsageAlert.objects.count() == 3


def test_org_alerts_reach_owners_and_admins_only(
    as_user, alice, bob, acme, django_capture_on_commit_callbacks, realtime
):
    admin = UserFactory()
    MembershipFactory(organization=acme, user=admin, role="admin")
    realtime.listen(users=(alice, bob, admin))
    with django_capture_on_commit_callbacks(execute=True):
        record(as_user(bob), slug="acme", event_type="file_upload", resource="r", quantity=80)
    assert [a["orgSlug"] for a in realtime.received(alice, "usage_alert")] == ["acme"]
    assert len(realtime.received(admin, "usage_alert")) == 1
    assert realtime.received(bob, "usage_alert") == []  # a plain member


def test_folded_api_calls_raise_alerts_too(client, alice):
    token = sessions.session_create(user=alice, meta=META, method="password").access.token
    start, end = month_of(timezone.now())
    UsagePeriod.objects.create(
        user=alice, period_start=start, period_end=end, api_calls=7_999,
        limits={"api_calls": 10_000},
    )  # fmt: skip
    client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert usage_fold() == 1
    assert list(UsageAlert.objects.values_list("alert_type", flat=True)) == ["warning_80"]


def test_alerts_are_listed_and_acknowledged_by_their_owners_only(
    as_user, alice, bob, charlie, acme
):
    record(as_user(bob), slug="acme", event_type="file_upload", resource="r", quantity=80)
    record(as_user(charlie), event_type="file_upload", resource="r", quantity=90)
    org_alert = UsageAlert.objects.get(organization=acme)
    charlie_alerts = UsageAlert.objects.filter(user=charlie)
    # alice owns acme: she sees its alert; bob (a member) does not; charlie sees his own two.
    assert [a["id"] for a in as_user(alice).get("/api/v1/usage/alerts").json()["alerts"]] == [
        org_alert.pk
    ]
    assert as_user(bob).get("/api/v1/usage/alerts").json()["count"] == 0
    assert as_user(charlie).get("/api/v1/usage/alerts").json()["count"] == 2
    # Someone else's alert: 404, untouched.
    foreign = charlie_alerts.first()
    response = as_user(alice).post(f"/api/v1/usage/alerts/{foreign.pk}/acknowledge")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"
    assert as_user(bob).post(f"/api/v1/usage/alerts/{org_alert.pk}/acknowledge").status_code == 404
    response = as_user(alice).post(f"/api/v1/usage/alerts/{org_alert.pk}/acknowledge")
    assert response.json() == {"message": "alert acknowledged", "alert_id": org_alert.pk}
    org_alert.refresh_from_db()
    assert org_alert.acknowledged_by == alice and org_alert.acknowledged_at is not None
    assert as_user(alice).get("/api/v1/usage/alerts").json()["count"] == 0
