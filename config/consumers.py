"""The `/ws` endpoint (contract §12)."""

from __future__ import annotations

import collections
import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from config import metrics
from config.context import new_request_id
from config.errors import error_body
from config.realtime import (
    BROADCAST_GROUP,
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHORIZED,
    member_org_ids,
    org_group,
    session_group,
    user_group,
)
from config.ws_auth import SocketAuthError, authenticate_socket

logger = logging.getLogger("keel.ws")
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CONNECTION_TTL = 3600


@functools.cache
def _guards() -> tuple[Callable[[dict[str, Any]], tuple[int, str, str] | None], ...]:
    return tuple(import_string(path) for path in settings.WS_CONNECT_GUARDS)


def socket_refusal(scope: dict[str, Any]) -> tuple[int, str, str] | None:
    """The first refusal of `settings.WS_CONNECT_GUARDS` (security: blocked IP, rate limit):
    (HTTP status, error code, message), or None."""
    for guard in _guards():
        refusal = guard(scope)
        if refusal is not None:
            return refusal
    return None


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Absent Origin is allowed (non-browser clients); else Keel's own host or an allowed one."""
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin")
    if not origin:
        return True
    origin_str = origin.decode("latin-1").rstrip("/")
    if origin_str in settings.CORS_ALLOWED_ORIGINS or origin_str == settings.SITE_URL:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(host) and urlsplit(origin_str).netloc == host


def _count_key(user_id: int) -> str:
    return f"ws:connections:{user_id}"


def _acquire_slot(user_id: int) -> int:
    key = _count_key(user_id)
    cache.add(key, 0, timeout=CONNECTION_TTL)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=CONNECTION_TTL)
        return 1


def _release_slot(user_id: int) -> None:
    try:
        if cache.decr(_count_key(user_id)) < 0:
            cache.set(_count_key(user_id), 0, timeout=CONNECTION_TTL)
    except ValueError:
        pass


class EventsConsumer(AsyncWebsocketConsumer):
    """Authenticated event stream: joins the user's, the session's, the broadcast group and the
    groups of the user's organizations."""

    user_id: int | None = None
    groups_joined: list[str]
    orgs: set[int]
    seen: collections.deque[str]
    counted = False
    closing = False  # set once the server has closed the socket: nothing may be sent after that

    async def connect(self) -> None:
        self.groups_joined = []
        self.orgs = set()
        self.seen = collections.deque(maxlen=64)  # ids of the recent events sent on
        refusal = await sync_to_async(socket_refusal)(self.scope)
        if refusal is not None:
            await self._deny(*refusal, CLOSE_FORBIDDEN if refusal[0] == 403 else CLOSE_POLICY)
            return
        if not origin_allowed(self.scope):
            await self._deny(403, "FORBIDDEN", "Origin not allowed", CLOSE_FORBIDDEN)
            return
        try:
            identity = await authenticate_socket(self.scope)
        except SocketAuthError as exc:
            await self._deny(exc.status, exc.code, exc.message, CLOSE_UNAUTHORIZED)
            return
        if identity is None:
            await self._deny(401, "UNAUTHORIZED", "Authentication required", CLOSE_UNAUTHORIZED)
            return
        self.user_id = identity.user.pk
        count = await sync_to_async(_acquire_slot)(self.user_id)
        self.counted = True
        if count > settings.WS_MAX_CONNECTIONS_PER_USER:
            await self.accept()
            await self.close(code=CLOSE_POLICY)
            return
        groups = [user_group(self.user_id), BROADCAST_GROUP]
        if identity.session_id:
            groups.append(session_group(identity.session_id))
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self._orgs_sync()
        await self.accept()
        metrics.WEBSOCKET_CONNECTIONS.inc()
        logger.info("websocket connected", extra={"user_id": self.user_id, "route": "/ws"})

    async def _deny(self, status: int, code: str, message: str, close_code: int) -> None:
        """HTTP denial response where the server supports it (uvicorn does), else accept+close."""
        if "websocket.http.response" in self.scope.get("extensions", {}):
            body = json.dumps(
                error_body(status, code, message) | {"request_id": new_request_id()}
            ).encode()
            await self.base_send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await self.base_send({"type": "websocket.http.response.body", "body": body})
            return
        await self.accept()
        await self.close(code=close_code)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.groups_joined:
            metrics.WEBSOCKET_CONNECTIONS.dec()
        if self.counted and self.user_id is not None:
            await sync_to_async(_release_slot)(self.user_id)
            self.counted = False
        self.groups_joined = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"")
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)  # the limit is in bytes
        if size > settings.WS_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        metrics.WEBSOCKET_MESSAGES.labels(direction="in").inc()
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return  # unknown or bad frames are ignored
        if isinstance(frame, dict) and frame.get("type") == "ping":
            await self._send_json(
                {"type": "pong", "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
            )

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close once; the server must not send anything (event, pong, second close) after it."""
        if self.closing:
            return
        self.closing = True
        await super().close(code=code, reason=reason)

    async def _send_json(self, data: dict[str, Any]) -> None:
        if self.closing:
            return  # an event that raced the close (e.g. deactivation: update, then close)
        await self.send(text_data=json.dumps(data, separators=(",", ":")))
        metrics.WEBSOCKET_MESSAGES.labels(direction="out").inc()

    async def _orgs_sync(self) -> None:
        """Be in the groups of exactly the organizations the user is an active member of."""
        assert self.user_id is not None
        wanted = await database_sync_to_async(member_org_ids)(self.user_id)
        for organization_id in wanted - self.orgs:
            await self.channel_layer.group_add(org_group(organization_id), self.channel_name)
            self.groups_joined.append(org_group(organization_id))
        for organization_id in self.orgs - wanted:
            await self.channel_layer.group_discard(org_group(organization_id), self.channel_name)
            self.groups_joined.remove(org_group(organization_id))
        self.orgs = wanted

    # Channel-layer handlers ---------------------------------------------------------------------

    def _first_time(self, message: dict[str, Any]) -> bool:
        """False for an event this socket already sent on (an org event can reach it through
        the org's group and the user's own: `realtime.publish_to_org`)."""
        event_id = message.get("event_id")
        if event_id is None:
            return True
        if event_id in self.seen:
            return False
        self.seen.append(event_id)
        return True

    async def event_message(self, message: dict[str, Any]) -> None:
        if self._first_time(message):
            await self._send_json(message["event"])

    async def org_event(self, message: dict[str, Any]) -> None:
        """An organization's event: sent on only while the user is still its member (a copy
        that reached the org group before a removal was applied is dropped)."""
        if message.get("org_id") in self.orgs and self._first_time(message):
            await self._send_json(message["event"])

    async def orgs_resync(self, message: dict[str, Any]) -> None:
        if self.user_id is not None and not self.closing:
            await self._orgs_sync()

    async def socket_close(self, message: dict[str, Any]) -> None:
        await self.close(code=message.get("code", CLOSE_UNAUTHORIZED))
