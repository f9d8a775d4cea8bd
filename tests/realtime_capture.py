"""What reached the channel layer, for tests: the `realtime` fixture (tests/conftest.py) listens
to users' and organizations' groups and reads the envelopes sent to them; `committed` runs what
waits for the commit (real-time sends, inline jobs) as a committed request would."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer

from config.realtime import org_group, user_group


@dataclass
class Realtime:
    """What reached the channel layer (the settings' own: in memory, or Redis): `listen` to a
    user's or an org's group first, then read the envelopes sent to it since. The listener is
    driven by one event loop on a thread of its own (the Redis layer binds its receive queues
    to the loop that first reads); on Redis it is a layer instance of its own."""

    layer: Any
    loop: asyncio.AbstractEventLoop
    channels: dict[str, str] = field(default_factory=dict)  # group -> our channel

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def listen(self, *, users: tuple[Any, ...] = (), orgs: tuple[Any, ...] = ()) -> None:
        groups = [user_group(u.pk) for u in users] + [org_group(o.pk) for o in orgs]
        for group in groups:
            if group not in self.channels:
                channel = self._run(self.layer.new_channel())
                self._run(self.layer.group_add(group, channel))
                self.channels[group] = channel

    def _drain(self, channel: str) -> list[dict[str, Any]]:
        async def receive_all() -> list[dict[str, Any]]:
            got = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(channel), 0.1)
                except TimeoutError:
                    return got
                got.append(message["event"])

        return self._run(receive_all())  # type: ignore[no-any-return]

    def received(self, who: Any, event_type: str | None = None) -> list[dict[str, Any]]:
        """Envelopes sent to a user's (or an org's) group since the last read; `payload` only
        when `event_type` is given."""
        from organizations.models import Organization

        group = org_group(who.pk) if isinstance(who, Organization) else user_group(who.pk)
        events = self._drain(self.channels[group])
        if event_type is None:
            return events
        return [e["payload"] for e in events if e["type"] == event_type]

    def close(self) -> None:
        try:
            for group, channel in self.channels.items():
                self._run(self.layer.group_discard(group, channel))
            if hasattr(self.layer, "close_pools"):
                self._run(self.layer.close_pools())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def realtime() -> Iterator[Realtime]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):  # Redis: a connection of our own
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    box = Realtime(layer, loop)
    yield box
    box.close()
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """`committed(fn, *args)`: call it and then run what waits for the commit (the real-time
    sends and the jobs, which run inline in tests), as a committed request would."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run
