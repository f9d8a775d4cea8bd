"""`GET /usage/history` costs the same few queries for 1 month or 24, with or without rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usage.models import UsageAlert, UsagePeriod
from usage.services import month_of

pytestmark = pytest.mark.django_db


def _queries(client, months: int) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/usage/history?months={months}")
    assert response.status_code == 200
    assert response.json()["count"] == months
    return len(captured.captured_queries)


def test_the_history_does_not_grow_with_months_or_periods(as_user, alice):
    client = as_user(alice)
    client.get("/api/v1/usage/history")  # warm the per-process caches
    one = _queries(client, 1)
    start, end = month_of(timezone.now())
    UsagePeriod.objects.create(user=alice, period_start=start, period_end=end, api_calls=5)
    assert _queries(client, 24) == one


def test_the_alert_list_does_not_grow_with_alerts(as_user, alice, acme):
    client = as_user(alice)
    client.get("/api/v1/usage/alerts")  # warm
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/usage/alerts").json()["count"] == 0
    few = len(captured.captured_queries)
    start, end = month_of(timezone.now())
    for usage_type in ("api_call", "storage", "compute"):
        for scope in ({"user": alice}, {"organization": acme}):
            UsageAlert.objects.create(
                alert_type="warning_80", usage_type=usage_type, current_usage=8,
                usage_limit=10, percentage_used=80, period_start=start, period_end=end, **scope,
            )  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/usage/alerts").json()["count"] == 6
    assert len(captured.captured_queries) == few
