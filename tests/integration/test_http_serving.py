"""Keel served for real (uvicorn, config.asgi): HTTP on a bounded thread pool (a2wsgi), the
PostgreSQL pool's bound under concurrent load, and what the WSGI bridge must carry through
unchanged (several Set-Cookie headers, HEAD, large bodies, odd paths). Needs PostgreSQL."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from accounts.auth import sessions
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
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

pytestmark = [
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.django_db(transaction=True),
]
POOL_MAX = 3
APPLICATION_NAME = f"keel-it-{uuid.uuid4().hex[:8]}"
META = sessions.RequestMeta(ip="127.0.0.1", user_agent="pytest")


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import os

    tmp: Path = tmp_path_factory.mktemp("http-serving")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_servers(),
        "PYTHONUNBUFFERED": "1",
        "CHANNEL_LAYER_PREFIX": f"keel-it-{uuid.uuid4().hex[:12]}",
        "RATE_LIMIT_ENABLED": "false",
        "WEB_THREADS": "8",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": str(POOL_MAX),
        "DB_APPLICATION_NAME": APPLICATION_NAME,
    }
    one = Server("server", free_port(), tmp / "server.log")
    try:
        start(one, env)
        wait_until_live(one)
        yield one
    finally:
        stop(one)


def call(
    server: Server, path: str, *, method: str = "GET", body: bytes | None = None, **headers: str
) -> tuple[int, object, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}", method=method, data=body, headers=headers
    )
    try:
        with NO_PROXY.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def server_connections() -> int:
    """The server's connections to the test database (it names them DB_APPLICATION_NAME)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [APPLICATION_NAME],
        )
        return int(cursor.fetchone()[0])


def test_concurrent_requests_share_a_bounded_pool_of_connections(server):
    user = UserFactory()
    MembershipFactory(user=user, organization=OrganizationFactory())
    token = sessions.session_create(user=user, meta=META, method="password").access.token
    peak = [0]
    stop_sampling = threading.Event()

    def sample() -> None:
        try:
            while not stop_sampling.is_set():
                peak[0] = max(peak[0], server_connections())
                stop_sampling.wait(0.02)
        finally:
            connection.close()  # this thread's own: back to the pool

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(
                pool.map(
                    lambda _: call(
                        server, "/api/v1/organizations", Authorization=f"Bearer {token}"
                    )[0],
                    range(160),
                )
            )
    finally:
        stop_sampling.set()
        sampler.join()
    assert statuses == [200] * 160
    # 32 clients on 8 web threads: without the pool each thread (under Django's ASGI handler,
    # each request) held a connection of its own.
    assert 1 <= peak[0] <= POOL_MAX, f"{peak[0]} connections for a pool of {POOL_MAX}"


def test_sign_in_sets_every_cookie_through_the_bridge(server):
    user = UserFactory(email=f"{uuid.uuid4().hex[:8]}@example.com")
    body = json.dumps({"email": user.email, "password": DEFAULT_PASSWORD}).encode()
    status, headers, raw = call(
        server,
        "/api/v1/auth/login",
        method="POST",
        body=body,
        **{"Content-Type": "application/json"},
    )
    assert status == 200, raw
    cookies = {c.split("=", 1)[0] for c in headers.get_all("Set-Cookie")}  # type: ignore[attr-defined]
    assert {"auth_token", "refresh_token", "csrf_token"} <= cookies
    assert headers["X-Request-ID"]  # type: ignore[index]


def test_head_answers_without_a_body(server):
    status, _headers, raw = call(server, "/health/live", method="HEAD")
    assert (status, raw) == (200, b"")


def test_a_large_body_is_read_whole_and_refused_cleanly(server):
    user = UserFactory()
    token = sessions.session_create(user=user, meta=META, method="password").access.token
    body = json.dumps({"name": "x" * 200_000}).encode()  # under the body limit, over the field's
    status, _headers, raw = call(
        server,
        "/api/v1/users/me",
        method="PATCH",
        body=body,
        Authorization=f"Bearer {token}",
        **{"Content-Type": "application/json"},
    )
    assert status == 400, raw
    assert json.loads(raw)["error"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("path", ["/api/v1/organizations/%ED%A0%80", "/api/v1/%FF%FE", "/%C0%AF"])
def test_undecodable_paths_are_a_4xx(server, path):
    status, _headers, raw = call(server, path)
    assert 400 <= status < 500, (status, raw)


def _chunked(server: Server, path: str, body: bytes, **headers: str) -> tuple[int, bytes]:
    """POST `body` with Transfer-Encoding: chunked (no Content-Length)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        chunks = (body[i : i + 4096] for i in range(0, len(body), 4096))
        conn.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_chunked_body_reaches_the_view(server):
    user = UserFactory(email=f"{uuid.uuid4().hex[:8]}@example.com")
    body = json.dumps({"email": user.email, "password": DEFAULT_PASSWORD}).encode()
    status, raw = _chunked(
        server, "/api/v1/auth/login", body, **{"Content-Type": "application/json"}
    )
    assert status == 200, raw  # an empty body would be a 400 naming the fields


def test_a_chunked_body_past_the_limit_is_a_413(server):
    status, raw = _chunked(
        server, "/api/v1/auth/login", b"x" * (2 * 1024 * 1024), **{"Content-Type": "text/plain"}
    )
    assert status == 413
    assert json.loads(raw)["error"] == "REQUEST_TOO_LARGE"


def test_a_header_name_with_an_underscore_is_not_read_as_its_dashed_twin(server):
    """WSGI spells X_Request_ID and X-Request-ID alike; the edge drops the underscored one
    (as Django's ASGI handler did), so it cannot stand in for X-Forwarded-For and the like."""
    status, headers, _raw = call(server, "/health/live", **{"X_Request_ID": "spoofed-id-1234"})
    assert status == 200
    assert headers["X-Request-ID"] != "spoofed-id-1234"  # type: ignore[index]
    status, headers, _raw = call(server, "/health/live", **{"X-Request-ID": "honest-id-1234"})
    assert headers["X-Request-ID"] == "honest-id-1234"  # type: ignore[index]
