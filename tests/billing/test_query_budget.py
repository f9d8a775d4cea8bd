"""`GET /billing/plans` reads the mirror in one query, however many prices it holds, and never
calls Stripe."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.services import catalogue_sync

pytestmark = pytest.mark.django_db


def _plans_queries(api) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get("/api/v1/billing/plans")
    assert response.status_code == 200
    return len(response.json()), len(captured.captured_queries)


def test_the_plans_list_costs_one_query_and_no_stripe_call(sandbox, api):
    api.get("/api/v1/billing/plans")  # warm: the system settings are cached per process
    few, queries_few = _plans_queries(api)
    for n in range(8):
        sandbox.product(f"Extra {n}", 500 + n, metadata={"plan": "pro"})
    catalogue_sync()
    calls_before = len(sandbox.fake.requests)
    many, queries_many = _plans_queries(api)
    assert (few, many) == (2, 10)
    assert queries_few == queries_many == 1
    assert len(sandbox.fake.requests) == calls_before
