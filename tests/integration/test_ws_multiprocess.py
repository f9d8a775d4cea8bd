"""`/ws` scale-out (contract §12): two separate uvicorn processes share PostgreSQL and Redis;
an event published from a third process (this test) through channels-redis reaches the
sockets held by both servers.

Needs REDIS_URL and a PostgreSQL DATABASE_URL, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python -m pytest tests/integration/test_ws_multiprocess.py

The servers use pytest-django's test database (committed data: `transaction=True`) and a
channel-layer prefix of their own, so a concurrent run on the same Redis does not cross-talk.
Server output is printed at each test's teardown, which pytest shows when the test fails.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from accounts.models import User
from config import realtime
from tests.integration.servers import (
    NEEDS_POSTGRES_AND_REDIS,
    Server,
    running_servers,
)

pytestmark = [
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.asyncio,
    pytest.mark.django_db(transaction=True),
]

BASE_DIR = Path(settings.BASE_DIR)
EVENT_TIMEOUT = 10
IDLE_SECONDS = 12  # more than twice channels-redis' blocking read (brpop_timeout = 5 s)
LAYER_PREFIX = f"keel-it-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def servers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Server]]:
    with running_servers(
        tmp_path_factory.mktemp("ws-multiprocess"), CHANNEL_LAYER_PREFIX=LAYER_PREFIX
    ) as pair:
        yield pair


@pytest.fixture(autouse=True)
def _same_channel_layer_as_the_servers(settings: Any) -> None:
    default = settings.CHANNEL_LAYERS["default"]
    assert default["BACKEND"] == "channels_redis.core.RedisChannelLayer", default
    settings.CHANNEL_LAYERS = {
        "default": {**default, "CONFIG": {**default["CONFIG"], "prefix": LAYER_PREFIX}}
    }


@pytest.fixture(autouse=True)
def _server_output_on_failure(servers: list[Server]) -> Iterator[None]:
    for server in servers:
        server.new_output()  # skip what earlier tests produced
    yield
    for server in servers:
        assert server.proc is not None
        state = "running" if server.proc.poll() is None else f"exited {server.proc.returncode}"
        print(f"----- {server.name} (port {server.port}, {state}) -----\n{server.new_output()}")


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections() -> AsyncIterator[None]:
    """sync_to_async runs ORM calls on one long-lived thread; with CONN_MAX_AGE its connection
    would outlive the test and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


def sign_in(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest_asyncio.fixture
async def open_socket() -> AsyncIterator[Any]:
    opened: list[ClientConnection] = []

    async def _open(server: Server, cookie: str) -> ClientConnection:
        ws = await connect(
            server.ws_url,
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
            open_timeout=EVENT_TIMEOUT,
            proxy=None,
        )
        opened.append(ws)
        return ws

    yield _open
    for ws in opened:
        await ws.close()


async def receive_json(ws: ClientConnection, where: str) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"nothing received on the socket to {where} within {EVENT_TIMEOUT} s")
    except ConnectionClosed as exc:
        pytest.fail(f"the socket to {where} was closed ({exc}); see the server output below")
    return json.loads(raw)


async def closed_with(ws: ClientConnection, where: str) -> int | None:
    try:
        message = await asyncio.wait_for(ws.recv(), timeout=EVENT_TIMEOUT)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    except TimeoutError:
        pytest.fail(f"the socket to {where} was not closed within {EVENT_TIMEOUT} s")
    pytest.fail(f"the socket to {where} received {message!r} instead of being closed")


async def test_each_process_answers_ping_with_pong(servers, open_socket, alice):
    cookie = await sync_to_async(sign_in)(alice)
    for server in servers:
        ws = await open_socket(server, cookie)
        await ws.send(json.dumps({"type": "ping"}))
        reply = await receive_json(ws, server.name)
        assert reply["type"] == "pong"
        assert reply["timestamp"].endswith("Z")


async def test_an_event_for_a_user_reaches_their_sockets_in_every_process(
    servers, open_socket, alice
):
    cookie = await sync_to_async(sign_in)(alice)
    sockets = {server.name: await open_socket(server, cookie) for server in servers}
    await sync_to_async(realtime.publish_to_user)(
        alice.pk, "notification_new", {"notification_id": 41}
    )
    for name, ws in sockets.items():
        event = await receive_json(ws, name)
        assert event["type"] == "notification_new"
        assert event["payload"] == {"notificationId": 41}
        assert event["timestamp"].endswith("Z")


async def test_an_event_for_one_user_does_not_reach_another(servers, open_socket, alice, bob):
    alices = await open_socket(servers[0], await sync_to_async(sign_in)(alice))
    bobs = await open_socket(servers[1], await sync_to_async(sign_in)(bob))
    await sync_to_async(realtime.publish_to_user)(alice.pk, "notification_new", {"id": 1})
    await receive_json(alices, servers[0].name)
    await bobs.send(json.dumps({"type": "ping"}))
    assert (await receive_json(bobs, servers[1].name))["type"] == "pong"  # not the event


async def test_a_broadcast_reaches_every_socket_in_every_process(servers, open_socket, alice, bob):
    alice_cookie = await sync_to_async(sign_in)(alice)
    bob_cookie = await sync_to_async(sign_in)(bob)
    sockets = {
        f"{server.name} ({who})": await open_socket(server, cookie)
        for server in servers
        for who, cookie in (("alice", alice_cookie), ("bob", bob_cookie))
    }
    await sync_to_async(realtime.broadcast)("cache_invalidate", {"query_keys": ["featureFlags"]})
    for where, ws in sockets.items():
        event = await receive_json(ws, where)
        assert (event["type"], event["payload"]) == (
            "cache_invalidate",
            {"queryKeys": ["featureFlags"]},
        )


async def test_closing_a_users_sockets_closes_them_in_every_process(servers, open_socket, alice):
    cookie = await sync_to_async(sign_in)(alice)
    sockets = {server.name: await open_socket(server, cookie) for server in servers}
    await sync_to_async(realtime.close_user_sockets)(alice.pk)
    for name, ws in sockets.items():
        assert await closed_with(ws, name) == 4401


async def test_an_idle_socket_outlives_the_channel_layers_blocking_read(
    servers, open_socket, alice
):
    """channels-redis waits for messages with a 5 s blocking pop; the Redis client's socket
    timeout must be longer, or every socket idle for 5 s dies with a Redis TimeoutError."""
    cookie = await sync_to_async(sign_in)(alice)
    sockets = {server.name: await open_socket(server, cookie) for server in servers}
    await asyncio.sleep(IDLE_SECONDS)
    await sync_to_async(realtime.publish_to_user)(alice.pk, "notification_new", {"id": 3})
    for name, ws in sockets.items():
        assert (await receive_json(ws, name))["type"] == "notification_new"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await receive_json(ws, name))["type"] == "pong"


async def test_a_socket_without_credentials_is_refused_with_http_401(servers):
    with pytest.raises(InvalidStatus) as refused:
        await connect(servers[0].ws_url, open_timeout=EVENT_TIMEOUT, proxy=None)
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(response.body)
    assert (body["error"], body["code"]) == ("UNAUTHORIZED", 401)
