"""Automatic metering (contract §6.3): authenticated API requests count `api_call`s in the
buffer (no database write on the request path), folded into the periods by `usage_fold`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.auth import sessions
from tests.organizations.conftest import make_key
from usage.models import UsageEvent, UsagePeriod
from usage.services import usage_fold

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="203.0.113.9", user_agent="pytest")


@pytest.fixture
def bearer(alice, acme):
    token = sessions.session_create(user=alice, meta=META, method="password").access.token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def totals(**scope):
    period = UsagePeriod.objects.filter(**scope).first()
    return period.api_calls if period else 0


def test_requests_count_in_the_buffer_and_fold_into_the_periods(client, bearer, alice, acme):
    for _ in range(3):
        assert client.get("/api/v1/auth/me", **bearer).status_code == 200
    assert client.get("/api/v1/organizations/acme/members", **bearer).status_code == 200
    assert not UsageEvent.objects.exists()  # nothing written on the request path
    # GET /usage adds what is still in the buffer (and is not metered itself).
    assert client.get("/api/v1/usage", **bearer).json()["totals"]["api_calls"] == 4
    assert (
        client.get("/api/v1/organizations/acme/usage", **bearer).json()["totals"]["api_calls"] == 1
    )

    assert usage_fold() == 5  # 4 for alice, 1 for acme
    assert totals(user=alice, organization__isnull=True) == 4
    assert totals(organization=acme) == 1
    assert set(UsageEvent.objects.values_list("resource", "event_type")) == {("api", "api_call")}
    # Folded once: the buffer is empty and GET /usage shows the stored totals alone.
    assert usage_fold() == 0
    assert client.get("/api/v1/usage", **bearer).json()["totals"]["api_calls"] == 4


def test_metering_writes_nothing_on_the_request_path(client, bearer):
    client.get("/api/v1/auth/me", **bearer)  # warm
    with CaptureQueriesContext(connection) as captured:
        client.get("/api/v1/auth/me", **bearer)
    assert not [q for q in captured.captured_queries if "usage_" in q["sql"]]


def test_anonymous_health_and_csrf_requests_are_not_metered(client, bearer, api):
    client.get("/api/v1/health")
    client.get("/api/v1/csrf-token", **bearer)
    api.get("/api/v1/billing/config")  # anonymous
    assert usage_fold() == 0


def test_an_api_key_counts_for_its_organization_only(client, acme, alice):
    _, raw = make_key(acme)
    assert client.get("/api/v1/organizations/acme/members", HTTP_X_API_KEY=raw).status_code == 200
    usage_fold()
    assert totals(organization=acme) == 1
    assert not UsagePeriod.objects.filter(user__isnull=False).exists()


def test_manage_py_usage_fold_folds_now_and_says_how_much(client, bearer, alice):
    client.get("/api/v1/auth/me", **bearer)
    client.get("/api/v1/auth/me", **bearer)
    out = StringIO()
    call_command("usage_fold", stdout=out)
    assert "100%" in out.getvalue() and "Folded 2 API call(s)." in out.getvalue()
    assert totals(user=alice, organization__isnull=True) == 2
