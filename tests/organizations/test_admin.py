"""The Django admin of organizations: the plan action goes through the service (seat check,
audit, event)."""

from __future__ import annotations

import pytest

from organizations.models import Organization
from security.models import AuditLog
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(client, superadmin):
    client.force_login(superadmin)
    return client


def _set_plan(browser, org: Organization, plan: str):
    return browser.post(
        "/admin/organizations/organization/",
        {"action": f"set_plan_{plan}", "_selected_action": [org.pk]},
        follow=True,
    )


def test_the_plan_action_changes_audits_and_tells_the_members(
    staff_browser, acme, alice, bob, monkeypatch
):
    events = []
    monkeypatch.setattr(
        "config.realtime.publish_to_org",
        lambda org_id, kind, payload, **kw: events.append((org_id, kind, payload)),
    )
    response = _set_plan(staff_browser, acme, "pro")
    assert [str(m) for m in response.context["messages"]] == ["Plan set to pro for 1 org(s)."]
    acme.refresh_from_db()
    assert acme.plan == "pro"
    audit = AuditLog.objects.get(action="organization_plan_change", target_id=str(acme.pk))
    assert audit.changes == {"plan": ["free", "pro"]}
    assert (acme.pk, "org_update", {
        "org_slug": "acme", "event": "billing_changed", "field": "plan"
    }) in events  # fmt: skip


def test_a_downgrade_below_the_active_members_is_refused_with_a_clear_message(staff_browser, acme):
    Organization.objects.filter(pk=acme.pk).update(plan="pro")
    for _ in range(4):  # alice, bob + 4 = 6 members > the free plan's 5 seats
        MembershipFactory(organization=acme)
    response = _set_plan(staff_browser, acme, "free")
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "acme: Acme has 6 active members; the free plan allows 5. "
        "Remove members before changing the plan."
    ]
    acme.refresh_from_db()
    assert acme.plan == "pro"
    assert not AuditLog.objects.filter(action="organization_plan_change").exists()
