"""Fixtures shared by the WebSocket test modules (import them into a module to use them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.db import connections


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings: Any) -> None:
    """The in-process layer even when REDIS_URL is set: a shared Redis (flushed by other test
    runs' cache.clear()) would make these tests flaky. channels-redis across processes is
    covered by tests/integration/test_ws_multiprocess.py."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest_asyncio.fixture(autouse=True)
async def _close_worker_thread_connections() -> AsyncIterator[None]:
    """sync_to_async runs ORM calls on one long-lived thread; with CONN_MAX_AGE its connection
    would outlive the test and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()
