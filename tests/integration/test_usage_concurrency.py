"""Usage ingestion under concurrency on PostgreSQL (contract §6.2, issue 14): 8 writers each
ingest 10 batches of 100 events into one scope at once, some ids shared between the writers.
The totals are exact and every shared id is accepted exactly once — through the service on
threads of this process, and through a real Keel server (uvicorn) over HTTP."""

from __future__ import annotations

import json
import os
import random
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.auth import sessions
from organizations.models import OrgRole
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.integration.servers import (
    NEEDS_POSTGRES_AND_REDIS,
    NO_PROXY,
    Server,
    database_url_for_servers,
    free_port,
    start,
    stop,
    wait_until_live,
)
from usage.models import UsageEvent, UsagePeriod
from usage.periods import Scope
from usage.services import usage_events_ingest

pytestmark = [
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.django_db(transaction=True),
]
WRITERS = 8
BATCHES = 10
# Per batch: 50 ids of the writer's own, 30 ids every writer sends (per batch number), 20
# events without an id.
OWN, SHARED, ANONYMOUS = 50, 30, 20
WEB_THREADS = 8
META = sessions.RequestMeta(ip="127.0.0.1", user_agent="pytest")


def batch(writer: int, number: int) -> list[dict[str, Any]]:
    own = [
        {"id": f"w{writer}-b{number}-{i}", "event_type": "api_call", "resource": "r"}
        for i in range(OWN)
    ]
    shared = [
        {"id": f"shared-b{number}-{i}", "event_type": "storage", "resource": "f", "quantity": 7}
        for i in range(SHARED)
    ]
    anonymous = [
        {"event_type": "compute", "resource": "job", "quantity": 3} for _ in range(ANONYMOUS)
    ]
    events = own + shared + anonymous
    # Mixed, so that the writers meet the shared ids at different places of their batches.
    random.Random(writer * BATCHES + number).shuffle(events)
    return events


EXPECTED_ACCEPTED = WRITERS * BATCHES * (OWN + ANONYMOUS) + BATCHES * SHARED
EXPECTED_DUPLICATES = (WRITERS - 1) * BATCHES * SHARED
EXPECTED_TOTALS = {
    "api_calls": WRITERS * BATCHES * OWN,
    "storage_bytes": BATCHES * SHARED * 7,
    "compute_ms": WRITERS * BATCHES * ANONYMOUS * 3,
    "file_uploads": 0,
}


def run_writers(send: Callable[[int, int], tuple[int, int]]) -> tuple[int, int]:
    """Every writer on a thread of its own, started together; the sums of its results."""
    start_together = threading.Barrier(WRITERS)

    def writer(n: int) -> tuple[int, int]:
        start_together.wait(timeout=30)
        accepted = duplicates = 0
        for number in range(BATCHES):
            a, d = send(n, number)
            accepted, duplicates = accepted + a, duplicates + d
        return accepted, duplicates

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    return sum(a for a, _ in results), sum(d for _, d in results)


def assert_exact(scope_rows: dict[str, Any], accepted: int, duplicates: int) -> None:
    assert (accepted, duplicates) == (EXPECTED_ACCEPTED, EXPECTED_DUPLICATES)
    events = UsageEvent.objects.filter(**scope_rows)
    assert events.count() == EXPECTED_ACCEPTED
    shared = events.filter(client_event_id__startswith="shared-")
    assert shared.count() == BATCHES * SHARED == shared.values("client_event_id").distinct().count()
    periods = list(UsagePeriod.objects.filter(**scope_rows))
    assert len(periods) == 1  # one period, created once by the racing writers
    assert periods[0].totals() == EXPECTED_TOTALS


def test_concurrent_batches_through_the_service_are_exact(db: None) -> None:
    user = UserFactory()
    scope = Scope(user_id=user.pk)

    def send(writer: int, number: int) -> tuple[int, int]:
        try:
            result = usage_events_ingest(scope=scope, events=batch(writer, number))
            return result.accepted, result.duplicates
        finally:
            connection.close()  # this thread's own connection

    accepted, duplicates = run_writers(send)
    assert_exact({"user": user, "organization": None}, accepted, duplicates)


# --- Over HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("usage-concurrency")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_servers(),
        "PYTHONUNBUFFERED": "1",
        "CHANNEL_LAYER_PREFIX": f"keel-it-{uuid.uuid4().hex[:12]}",
        "RATE_LIMIT_ENABLED": "false",
        "WEB_THREADS": str(WEB_THREADS),
        "DB_POOL_MAX_SIZE": str(WEB_THREADS + 2),
    }
    one = Server("server", free_port(), tmp / "server.log")
    try:
        start(one, env)
        wait_until_live(one)
        yield one
    finally:
        stop(one)


def post_events(server: Server, path: str, token: str, events: list[dict[str, Any]]) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=json.dumps({"events": events}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with NO_PROXY.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


@pytest.mark.parametrize("scope", ["user", "organization"])
def test_concurrent_batches_over_http_are_exact(server: Server, scope: str) -> None:
    user = UserFactory()
    token = sessions.session_create(user=user, meta=META, method="password").access.token
    if scope == "organization":
        org = OrganizationFactory(created_by=user)
        MembershipFactory(organization=org, user=user, role=OrgRole.MEMBER)
        path, rows = f"/api/v1/organizations/{org.slug}/usage/events", {"organization": org}
    else:
        path, rows = "/api/v1/usage/events", {"user": user, "organization": None}

    def send(writer: int, number: int) -> tuple[int, int]:
        status, body = post_events(server, path, token, batch(writer, number))
        assert status == 202, f"{status} {body}\n{server.new_output()[-4000:]}"
        return body["accepted"], body["duplicates"]

    accepted, duplicates = run_writers(send)
    assert_exact(rows, accepted, duplicates)
