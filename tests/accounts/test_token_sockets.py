"""Access tokens also open WebSockets (cookie, Bearer, ?token=) and close with the session."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.auth.services import auth_logout
from accounts.auth.sessions import RequestMeta, session_create, session_revoke
from accounts.models import UserSession
from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@sync_to_async
def sign_in(user):
    return session_create(
        user=user, meta=RequestMeta(ip="127.0.0.1", user_agent="pytest"), method="password"
    )


async def open_socket(
    path: str = "/ws", headers: list | None = None
) -> tuple[WebsocketCommunicator, bool]:
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect()
    return comm, connected


async def ping(comm: WebsocketCommunicator) -> str:
    await comm.send_json_to({"type": "ping"})
    return (await comm.receive_json_from(timeout=3))["type"]


@pytest.mark.parametrize("how", ["cookie", "bearer", "query"])
async def test_a_token_opens_a_socket(alice, how):
    token = (await sign_in(alice)).access.token
    path, headers = "/ws", []
    if how == "cookie":
        headers = [(b"cookie", f"auth_token={token}".encode())]
    elif how == "bearer":
        headers = [(b"authorization", f"Bearer {token}".encode())]
    else:
        path = f"/ws?token={token}"
    comm, connected = await open_socket(path, headers)
    assert connected
    assert await ping(comm) == "pong"
    await comm.disconnect()


async def test_a_blacklisted_token_is_refused(alice):
    token = (await sign_in(alice)).access.token
    await sync_to_async(auth_logout)(access_token=token, refresh_token=None)
    comm, connected = await open_socket(f"/ws?token={token}")
    assert connected  # the test transport has no denial responses: accept, then close
    assert (await comm.receive_output(timeout=3))["code"] == 4401


async def test_revoking_the_session_closes_its_sockets(alice):
    sign = await sign_in(alice)
    comm, connected = await open_socket(f"/ws?token={sign.access.token}")
    assert connected
    await sync_to_async(session_revoke)(user=alice, session_id=sign.session.pk)
    assert (await comm.receive_output(timeout=3))["code"] == 4401
    assert await sync_to_async(UserSession.objects.filter(revoked_at__isnull=False).count)() == 1
