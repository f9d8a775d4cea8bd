"""The `/ws` endpoint (contract §12): authentication, origin, keepalive, frame limits and the
per-user connection limit, driven through the real ASGI application.

The communicator advertises no denial-response extension, so refusals show up as
accept-then-close with 4401 / 4403 (the HTTP 401/403 path is covered separately by handing
the consumer a scope that advertises the extension, and end to end in tests/integration).

`channels.testing` cannot be imported here: its package imports daphne (for its live-server
test case), which Keel does not install. `SocketCommunicator` below is the same thin layer
over asgiref's communicator as `channels.testing.WebsocketCommunicator`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import User
from config.asgi import application
from tests.factories import UserFactory
from tests.socket_fixtures import (  # noqa: F401  (autouse fixtures)
    _close_worker_thread_connections,
    _in_memory_channel_layer,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 5
HOST = "testserver"


class SocketCommunicator(ApplicationCommunicator):
    """A client end of `/ws` on the ASGI application (no server in between)."""

    cookie: str | None = None  # the session it signed in with, when the test needs it again

    def __init__(self, headers: list[tuple[bytes, bytes]], path: str = "/ws") -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = TIMEOUT) -> bool:
        """True when the server accepted the handshake (it may still close right after)."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        assert response["type"] in {"websocket.accept", "websocket.close"}, response
        return response["type"] == "websocket.accept"

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send_input({"type": "websocket.receive", "text": text_data})
        else:
            await self.send_input({"type": "websocket.receive", "bytes": bytes_data})

    async def send_json_to(self, data: Any) -> None:
        await self.send_to(text_data=json.dumps(data))

    async def receive_json_from(self, timeout: float = TIMEOUT) -> Any:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])

    async def disconnect(self, code: int = 1000, timeout: float = TIMEOUT) -> None:
        if not self.future.done():
            await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


OpenSocket = Callable[..., Awaitable[SocketCommunicator]]


def sign_in(user: User) -> str:
    """A real Django session for the user; returns the session cookie's value."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket_headers(
    cookie: str | None = None, origin: str | None = None, host: str = HOST
) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", host.encode())]
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


@pytest_asyncio.fixture
async def open_socket() -> AsyncIterator[OpenSocket]:
    """Open `/ws` like a client; every socket opened is disconnected after the test."""
    opened: list[SocketCommunicator] = []

    async def _open(
        cookie: str | None = None, origin: str | None = None, host: str = HOST
    ) -> SocketCommunicator:
        communicator = SocketCommunicator(socket_headers(cookie, origin, host))
        opened.append(communicator)
        assert await communicator.connect(), "the handshake was not answered with an accept"
        return communicator

    yield _open
    for communicator in opened:
        await communicator.disconnect(timeout=TIMEOUT)
    await get_channel_layer().flush()


async def assert_closed_with(communicator: SocketCommunicator, code: int) -> None:
    message = await communicator.receive_output(timeout=TIMEOUT)
    assert message == {"type": "websocket.close", "code": code}


async def assert_open(communicator: SocketCommunicator) -> None:
    """Still answering: a ping gets a pong (and nothing else was sent before it)."""
    await communicator.send_json_to({"type": "ping"})
    reply = await communicator.receive_json_from(timeout=TIMEOUT)
    assert reply["type"] == "pong"


@pytest.fixture
def alice_cookie(alice: User) -> str:
    return sign_in(alice)


@pytest.fixture
def bob_cookie(bob: User) -> str:
    return sign_in(bob)


# --- Authentication ---------------------------------------------------------------------------


async def test_it_refuses_sockets_without_credentials(open_socket):
    socket = await open_socket()
    await assert_closed_with(socket, 4401)


async def test_it_refuses_a_session_cookie_that_names_no_session(open_socket):
    socket = await open_socket(cookie="no-such-session-key")
    await assert_closed_with(socket, 4401)


async def test_it_accepts_a_signed_in_session_cookie(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    assert await socket.receive_nothing(timeout=0.2)
    await assert_open(socket)


def signed_out_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()
    return cookie


async def test_it_refuses_the_session_cookie_after_logout(open_socket, alice):
    cookie = await sync_to_async(signed_out_cookie)(alice)
    socket = await open_socket(cookie=cookie)
    await assert_closed_with(socket, 4401)


async def test_it_refuses_an_inactive_user(open_socket):
    user = await sync_to_async(UserFactory)(is_active=False)
    cookie = await sync_to_async(sign_in)(user)
    socket = await open_socket(cookie=cookie)
    await assert_closed_with(socket, 4401)


async def test_it_refuses_a_user_deactivated_after_signing_in(open_socket, alice, alice_cookie):
    await User.objects.filter(pk=alice.pk).aupdate(is_active=False)
    socket = await open_socket(cookie=alice_cookie)
    await assert_closed_with(socket, 4401)


async def test_it_refuses_a_soft_deleted_user(open_socket, alice, alice_cookie):
    await User.objects.filter(pk=alice.pk).aupdate(deleted_at=timezone.now())
    socket = await open_socket(cookie=alice_cookie)
    await assert_closed_with(socket, 4401)


# --- Refusal as an HTTP response (servers with the websocket.http.response extension) ---------


async def deny_over_http(headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[str, Any]]:
    scope = {
        "type": "websocket",
        "path": "/ws",
        "query_string": b"",
        "headers": headers,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    communicator = ApplicationCommunicator(application, scope)
    try:
        await communicator.send_input({"type": "websocket.connect"})
        start = await communicator.receive_output(timeout=TIMEOUT)
        assert start["type"] == "websocket.http.response.start", start
        body = await communicator.receive_output(timeout=TIMEOUT)
        assert body["type"] == "websocket.http.response.body", body
        return start["status"], json.loads(body["body"])
    finally:
        await communicator.send_input({"type": "websocket.disconnect", "code": 1006})
        await communicator.wait(timeout=TIMEOUT)


async def test_it_answers_401_with_the_error_envelope_where_the_server_supports_it():
    status, body = await deny_over_http(socket_headers())
    assert status == 401
    assert body["error"] == "UNAUTHORIZED"
    assert body["code"] == 401
    assert body["request_id"]


async def test_it_answers_403_for_a_foreign_origin_where_the_server_supports_it(alice_cookie):
    status, body = await deny_over_http(socket_headers(alice_cookie, "https://evil.example"))
    assert (status, body["error"]) == (403, "FORBIDDEN")


async def test_it_names_a_deactivated_account_in_the_http_refusal(alice, alice_cookie):
    await User.objects.filter(pk=alice.pk).aupdate(is_active=False)
    status, body = await deny_over_http(socket_headers(alice_cookie))
    assert (status, body["error"]) == (401, "ACCOUNT_INACTIVE")


async def test_it_treats_a_deleted_account_as_unauthenticated_in_the_http_refusal(
    alice, alice_cookie
):
    await User.objects.filter(pk=alice.pk).aupdate(deleted_at=timezone.now())
    status, body = await deny_over_http(socket_headers(alice_cookie))
    assert (status, body["error"]) == (401, "UNAUTHORIZED")


# --- Keepalive and frames ---------------------------------------------------------------------


async def test_it_answers_ping_with_pong_and_an_iso_timestamp(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_json_to({"type": "ping"})
    reply = await socket.receive_json_from(timeout=TIMEOUT)
    assert set(reply) == {"type", "timestamp"}
    assert reply["type"] == "pong"
    assert reply["timestamp"].endswith("Z")
    sent_at = datetime.fromisoformat(reply["timestamp"])
    assert abs(datetime.now(UTC) - sent_at) < timedelta(seconds=5)


async def test_it_ignores_frames_that_are_not_json(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_to(text_data="{this is not json")
    assert await socket.receive_nothing(timeout=0.2)
    await assert_open(socket)


async def test_it_ignores_binary_frames_that_are_not_utf8(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_to(bytes_data=b"\xff\xfe\x00garbage")
    assert await socket.receive_nothing(timeout=0.2)
    await assert_open(socket)


@pytest.mark.parametrize(
    "frame",
    [{"type": "subscribe", "channel": "x"}, {"kind": "ping"}, [1, 2, 3], "ping", 42, None],
    ids=["unknown-type", "no-type", "array", "string", "number", "null"],
)
async def test_it_ignores_json_frames_it_does_not_know(open_socket, alice_cookie, frame):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_json_to(frame)
    assert await socket.receive_nothing(timeout=0.2)
    await assert_open(socket)


async def test_it_closes_with_1009_on_a_frame_over_64_kib(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_to(text_data="x" * (64 * 1024 + 1))
    await assert_closed_with(socket, 1009)


async def test_it_accepts_a_frame_of_exactly_64_kib(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    frame = '{"type":"ping","pad":""}'
    frame = frame.replace('""', '"' + "x" * (64 * 1024 - len(frame)) + '"')
    assert len(frame.encode()) == 64 * 1024
    await socket.send_to(text_data=frame)
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "pong"


async def test_it_counts_the_frame_limit_in_bytes_not_characters(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    frame = "é" * 40_000  # 40 000 characters, 80 000 bytes of UTF-8
    await socket.send_to(text_data=frame)
    await assert_closed_with(socket, 1009)


async def test_it_closes_with_1009_on_a_binary_frame_over_64_kib(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await socket.send_to(bytes_data=b"x" * (64 * 1024 + 1))
    await assert_closed_with(socket, 1009)


# --- Origin -----------------------------------------------------------------------------------


async def test_it_refuses_a_foreign_origin_with_4403(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie, origin="https://evil.example")
    await assert_closed_with(socket, 4403)


async def test_it_checks_the_origin_before_the_credentials(open_socket):
    socket = await open_socket(origin="https://evil.example")
    await assert_closed_with(socket, 4403)


async def test_it_refuses_the_opaque_null_origin(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie, origin="null")
    await assert_closed_with(socket, 4403)


async def test_it_refuses_an_origin_that_only_resembles_its_host(open_socket, alice_cookie):
    socket = await open_socket(
        cookie=alice_cookie, origin="https://keel.example.evil.example", host="keel.example"
    )
    await assert_closed_with(socket, 4403)


async def test_it_accepts_a_socket_without_origin(open_socket, alice_cookie):
    socket = await open_socket(cookie=alice_cookie)
    await assert_open(socket)


async def test_it_accepts_its_own_host_as_origin(open_socket, alice_cookie):
    socket = await open_socket(
        cookie=alice_cookie, origin="https://keel.example", host="keel.example"
    )
    await assert_open(socket)


async def test_it_accepts_site_url_as_origin(open_socket, alice_cookie, settings):
    settings.SITE_URL = "https://app.keel.example"
    socket = await open_socket(cookie=alice_cookie, origin="https://app.keel.example")
    await assert_open(socket)


async def test_it_accepts_an_origin_listed_in_cors_allowed_origins(
    open_socket, alice_cookie, settings
):
    settings.CORS_ALLOWED_ORIGINS = ["https://client.example"]
    socket = await open_socket(cookie=alice_cookie, origin="https://client.example")
    await assert_open(socket)


# --- Connections per user ---------------------------------------------------------------------


async def test_it_allows_several_sockets_per_user(open_socket, alice_cookie):
    sockets = [await open_socket(cookie=alice_cookie) for _ in range(3)]
    for socket in sockets:
        await assert_open(socket)


async def test_it_closes_the_socket_over_the_per_user_limit_with_1008(
    open_socket, alice_cookie, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    first = await open_socket(cookie=alice_cookie)
    second = await open_socket(cookie=alice_cookie)
    third = await open_socket(cookie=alice_cookie)
    await assert_closed_with(third, 1008)
    await assert_open(first)
    await assert_open(second)


async def test_closing_a_socket_frees_a_slot(open_socket, alice_cookie, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    first = await open_socket(cookie=alice_cookie)
    await open_socket(cookie=alice_cookie)
    await first.disconnect(timeout=TIMEOUT)
    replacement = await open_socket(cookie=alice_cookie)
    await assert_open(replacement)


async def test_a_refused_socket_gives_its_slot_back(open_socket, alice_cookie, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    await open_socket(cookie=alice_cookie)
    first = await open_socket(cookie=alice_cookie)
    refused = await open_socket(cookie=alice_cookie)
    await assert_closed_with(refused, 1008)
    await refused.disconnect(timeout=TIMEOUT)
    await first.disconnect(timeout=TIMEOUT)
    replacement = await open_socket(cookie=alice_cookie)
    await assert_open(replacement)


async def test_the_limit_counts_each_user_separately(
    open_socket, alice_cookie, bob_cookie, settings
):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    await open_socket(cookie=alice_cookie)
    await open_socket(cookie=alice_cookie)
    socket = await open_socket(cookie=bob_cookie)
    await assert_open(socket)
