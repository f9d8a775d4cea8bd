"""The blocklist and the ip tier also guard WebSocket handshakes (contract §12)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from config.asgi import application
from security.services import ip_block_create

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def communicator(ip: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws")
    comm.scope["client"] = (ip, 50000)
    return comm


async def test_a_blocked_ip_cannot_open_a_socket():
    await sync_to_async(ip_block_create)(actor=None, ip_range="203.0.113.0/24")
    comm = communicator("203.0.113.9")
    connected, code = await comm.connect()
    if connected:  # the test transport has no denial responses: accept, then close
        assert (await comm.receive_output())["code"] == 4403
    else:
        assert code == 4403
    await comm.disconnect()


async def test_the_ip_tier_limits_handshakes(monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 2)
    codes = []
    for _ in range(3):
        comm = communicator("198.51.100.3")
        connected, code = await comm.connect()
        output = await comm.receive_output() if connected else {"code": code}
        codes.append(output.get("code"))
        await comm.disconnect()
    assert codes[:2] == [4401, 4401]  # let through the guard, refused for lack of credentials
    assert codes[2] == 1008
