"""Enforcement (contract §6.5): `usage_enforcement` off | api_calls | all; 429
USAGE_LIMIT_EXCEEDED with Retry-After until the period ends; sign-in, billing, usage, the CSRF
token and health stay open; staff are never refused; the request path asks the cache only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth import sessions
from security.services import system_settings_update
from tests.organizations.conftest import make_key
from tests.usage.conftest import record
from usage import periods
from usage.alerts import limits_check
from usage.models import UsagePeriod
from usage.periods import Scope, month_of
from usage.services import limits_sweep

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="203.0.113.9", user_agent="pytest")


def enforce(mode: str, superadmin) -> None:
    system_settings_update(values={"usage_enforcement": mode}, actor=superadmin)


def over_api_calls(**scope) -> None:
    """The scope's API calls this month at their limit (free: 10,000)."""
    start, end = month_of(timezone.now())
    UsagePeriod.objects.create(
        period_start=start, period_end=end, api_calls=10_000, limits={"api_calls": 10_000},
        **scope,
    )  # fmt: skip
    key = "organization_id" if "organization" in scope else "user_id"
    limits_check(scope=Scope(**{key: next(iter(scope.values())).pk}))


def bearer(user) -> dict[str, str]:
    token = sessions.session_create(user=user, meta=META, method="password").access.token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_off_by_default_refuses_nothing(client, alice):
    over_api_calls(user=alice)
    assert client.get("/api/v1/users/me", **bearer(alice)).status_code == 200


def test_api_calls_refuses_a_user_over_the_limit_but_keeps_the_open_routes(
    client, alice, bob, superadmin
):
    enforce("api_calls", superadmin)
    over_api_calls(user=alice)
    headers = bearer(alice)
    response = client.get("/api/v1/users/me", **headers)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "USAGE_LIMIT_EXCEEDED" and body["code"] == 429
    assert 0 < int(response["Retry-After"]) <= 31 * 86400 and body["retry_after"] > 0
    for open_path in ("/api/v1/auth/me", "/api/v1/billing/config", "/api/v1/usage",
                      "/api/v1/csrf-token", "/api/v1/health"):  # fmt: skip
        assert client.get(open_path, **headers).status_code == 200, open_path
    assert client.get("/api/v1/users/me", **bearer(bob)).status_code == 200  # not over
    # The refused request was not served: not counted. /auth/me and /billing/config were served
    # (and metered); /usage, /csrf-token and health are never metered.
    assert client.get("/api/v1/usage", **headers).json()["totals"]["api_calls"] == 10_002


def test_staff_are_never_refused(client, staff, superadmin):
    enforce("api_calls", superadmin)
    over_api_calls(user=staff)
    assert client.get("/api/v1/users/me", **bearer(staff)).status_code == 200


def test_an_org_over_its_limit_refuses_its_routes_and_keys_only(
    client, alice, acme, globex, charlie, superadmin
):
    enforce("api_calls", superadmin)
    over_api_calls(organization=acme)
    headers = bearer(alice)
    assert client.get("/api/v1/organizations/acme/members", **headers).status_code == 429
    assert client.get("/api/v1/organizations/acme/billing", **headers).status_code == 200
    assert client.get("/api/v1/users/me", **headers).status_code == 200  # alice herself is fine
    _, raw = make_key(acme)
    assert client.get("/api/v1/organizations/acme/members", HTTP_X_API_KEY=raw).status_code == 429
    charlie_headers = bearer(charlie)
    assert client.get("/api/v1/organizations/globex/members", **charlie_headers).status_code == 200


def test_all_refuses_recording_into_a_metric_over_its_limit(as_user, alice, superadmin):
    enforce("all", superadmin)
    client = as_user(alice)
    assert record(client, event_type="file_upload", resource="r", quantity=100).status_code == 201
    refused = record(client, event_type="file_upload", resource="r")
    assert refused.status_code == 429 and refused.json()["error"] == "USAGE_LIMIT_EXCEEDED"
    # Another metric is still open; a batch touching the full one is refused whole.
    assert record(client, event_type="compute", resource="r").status_code == 201
    batch = [
        {"event_type": "compute", "resource": "r"},
        {"event_type": "file_upload", "resource": "r"},
    ]
    assert client.post("/api/v1/usage/events", {"events": batch}, format="json").status_code == 429
    assert UsagePeriod.objects.get(user=alice).compute_ms == 1


def test_a_plan_upgrade_lifts_the_refusal_at_the_next_sweep(client, alice, superadmin, settings):
    enforce("api_calls", superadmin)
    over_api_calls(user=alice)
    headers = bearer(alice)
    assert client.get("/api/v1/users/me", **headers).status_code == 429
    UsagePeriod.objects.filter(user=alice).update(limits={"api_calls": 100_000})
    settings.USAGE_PLAN_LIMITS = "tests.usage.test_enforcement.pro_limits"
    periods._plan_limits.cache_clear()
    try:
        limits_sweep()
        assert client.get("/api/v1/users/me", **headers).status_code == 200
    finally:
        periods._plan_limits.cache_clear()


def pro_limits(**scope: object) -> tuple[str, dict[str, int]]:
    return "pro", {"api_calls": 100_000, "storage_bytes": 1, "compute_ms": 1, "file_uploads": 1}


def test_the_check_costs_no_query(client, alice, superadmin):
    headers = bearer(alice)
    client.get("/api/v1/users/me", **headers)
    with CaptureQueriesContext(connection) as off:
        client.get("/api/v1/users/me", **headers)
    enforce("api_calls", superadmin)
    client.get("/api/v1/users/me", **headers)  # the settings are re-read once
    with CaptureQueriesContext(connection) as on:
        client.get("/api/v1/users/me", **headers)
    assert len(on.captured_queries) == len(off.captured_queries)
