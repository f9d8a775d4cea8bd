"""Security controls across processes: the test process writes, separate uvicorn servers
(sharing PostgreSQL and Redis) enforce. Needs REDIS_URL and a PostgreSQL DATABASE_URL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from email.message import Message

import pytest

from security.models import SystemSetting
from security.services import ip_block_create, ip_block_deactivate, system_settings_update
from tests.integration.servers import (
    NEEDS_POSTGRES_AND_REDIS,
    NO_PROXY,
    Server,
    running_servers,
)

pytestmark = [
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.django_db(transaction=True),
]
IP_LIMIT = 40


@pytest.fixture(scope="module")
def servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    with running_servers(
        tmp_path_factory.mktemp("security-multiprocess"),
        CHANNEL_LAYER_PREFIX=f"keel-it-{uuid.uuid4().hex[:12]}",
        RATE_LIMIT_IP_PER_MINUTE=str(IP_LIMIT),
    ) as pair:
        yield pair


@pytest.fixture(autouse=True)
def _print_server_output_on_failure(servers: list[Server]) -> Iterator[None]:
    for server in servers:
        server.new_output()
    yield
    for server in servers:
        print(f"----- {server.name} -----\n{server.new_output()}")


def get(server: Server, path: str, method: str = "GET") -> tuple[int, Message, dict]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        method=method,
        data=b"{}" if method != "GET" else None,
    )
    request.add_header("Content-Type", "application/json")
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, response.headers, _json(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, _json(error)


def _json(response: object) -> dict:
    raw = response.read()  # type: ignore[attr-defined]
    is_json = response.headers.get("Content-Type", "").startswith("application/json")  # type: ignore[attr-defined]
    return json.loads(raw) if is_json and raw else {}


def test_a_block_and_its_lifting_apply_at_once_in_other_processes(servers):
    a, b = servers
    assert get(a, "/api/v1/csrf-token")[0] == 200
    entry = ip_block_create(actor=None, ip_address="127.0.0.1", reason="integration test")
    for server in servers:
        status, _, body = get(server, "/api/v1/csrf-token")
        assert (status, body.get("error")) == (403, "IP_BLOCKED")
    assert get(b, "/health/live")[0] == 200  # never blocked
    ip_block_deactivate(block_id=entry.pk, actor=None)
    for server in servers:
        assert get(server, "/api/v1/csrf-token")[0] == 200


def test_rate_limits_are_shared_by_every_process(servers):
    a, b = servers
    statuses = [get((a, b)[i % 2], "/api/v1/does-not-exist")[0] for i in range(IP_LIMIT + 5)]
    # Separate counters would let each server accept IP_LIMIT; a shared window accepts IP_LIMIT
    # in all (one more if a minute boundary passes mid-test and the old bucket starts to decay).
    assert statuses.count(404) in (IP_LIMIT, IP_LIMIT + 1), statuses
    assert statuses[-1] == 429
    status, headers, body = get(a, "/api/v1/does-not-exist")
    assert status == 429 and body["error"] == "RATE_LIMITED"
    assert int(headers["Retry-After"]) >= 1 and headers["X-RateLimit-Remaining"] == "0"


def test_a_settings_change_reaches_other_processes_without_restart(servers):
    a, _ = servers
    assert SystemSetting.objects.filter(key="maintenance_mode").exists()
    system_settings_update(values={"maintenance_mode": True}, actor=None)
    try:
        deadline = time.monotonic() + 8  # processes keep a local copy for at most 5 s
        while True:
            status, _, _ = get(a, "/")
            if status == 503:
                break
            assert time.monotonic() < deadline, f"still {status} after 8 s"
            time.sleep(0.5)
    finally:
        system_settings_update(values={"maintenance_mode": False}, actor=None)
