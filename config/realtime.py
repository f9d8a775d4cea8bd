"""Publishing real-time events (contract §12). Services call these; nothing else does.

Events are sent after the surrounding transaction commits, through the channel layer, so
any process (web or worker) can publish and every process's sockets receive them.

Groups: `user.<id>` (all of a user's sockets), `session.<id>` (one sign-in's sockets),
`org.<id>` (the sockets of the org's active members: joined at connect, re-read after every
membership change), `broadcast` (everyone).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger("keel.realtime")

BROADCAST_GROUP = "broadcast"
SEND_CONCURRENCY = 50
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def org_group(organization_id: int) -> str:
    return f"org.{organization_id}"


def session_group(session_id: int | str) -> str:
    return f"session.{session_id}"


_CAMEL_RE = re.compile(r"_([a-z0-9])")


def camelize(value: Any) -> Any:
    """snake_case keys → camelCase (WebSocket payloads are camelCase, REST is snake_case)."""
    if isinstance(value, dict):
        return {
            _CAMEL_RE.sub(lambda m: m.group(1).upper(), str(k)): camelize(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [camelize(v) for v in value]
    return value


def envelope(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        "payload": camelize(payload),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def _group_send(groups: list[str], message: dict[str, Any]) -> None:
    """All groups in one trip into the event loop (an org event reaches every member's group:
    one loop and one Redis connection for all of them, not one each)."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send(group: str) -> None:
        try:
            await layer.group_send(group, message)
        except Exception:  # a failed push must never fail the write that caused it
            logger.warning("could not publish to %s", group, exc_info=True)

    async def send_all() -> None:
        # Up to SEND_CONCURRENCY groups in flight: each group_send waits on Redis round trips.
        for start in range(0, len(groups), SEND_CONCURRENCY):
            await asyncio.gather(*(send(g) for g in groups[start : start + SEND_CONCURRENCY]))

    try:
        async_to_sync(send_all)()
    except Exception:  # no way into an event loop from here: the push is lost, the write is not
        logger.warning("could not publish to %d group(s)", len(groups), exc_info=True)


def _after_commit(groups: list[str], message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _group_send(groups, message))


def publish_to_users(user_ids: Iterable[int], event_type: str, payload: dict[str, Any]) -> None:
    """Send one event to every socket of each of these users."""
    groups = [user_group(uid) for uid in dict.fromkeys(user_ids)]
    if groups:
        _after_commit(groups, {"type": "event.message", "event": envelope(event_type, payload)})


def publish_to_user(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    publish_to_users([user_id], event_type, payload)


@functools.cache
def _org_members() -> Callable[..., Iterable[int]]:
    """`settings.REALTIME_ORG_MEMBERS`: `(organization_id=, roles=)` -> the user ids an org event
    reaches (organizations fills it: the active members)."""
    return import_string(settings.REALTIME_ORG_MEMBERS)


@functools.cache
def _member_orgs() -> Callable[..., Iterable[int]]:
    """`settings.REALTIME_MEMBER_ORGS`: `(user_id=)` -> the ids of the organizations whose
    events that user's sockets receive (organizations fills it: the active memberships)."""
    return import_string(settings.REALTIME_MEMBER_ORGS)


def member_org_ids(user_id: int) -> set[int]:
    return set(_member_orgs()(user_id=user_id))


def member_orgs_changed(user_id: int) -> None:
    """A membership of this user began, ended or changed: after the commit, their sockets
    re-read which organization groups they are in (and ignore events of orgs they left)."""
    _after_commit([user_group(user_id)], {"type": "orgs.resync"})


def publish_to_org(
    organization_id: int,
    event_type: str,
    payload: dict[str, Any],
    *,
    roles: Iterable[str] | None = None,
    also_user_ids: Iterable[int] = (),
) -> None:
    """Send an event to the org's active members (optionally only some roles), plus extra users
    (a member who was just removed, or who just joined).

    To all members it is one message to the org's group, which every member's socket joins (a
    constant cost however large the org); to some roles, one message per member. Each user in
    `also_user_ids` also gets a copy through their own group, after the resync of their org
    groups that their membership change queued: a removed member's socket has left the org
    (the group's copy, if it still arrives, is dropped), a new member's may not have joined yet.
    Both copies carry one event id, so a socket that gets both sends the event once."""
    extra = list(dict.fromkeys(also_user_ids))
    if roles is not None:
        member_ids = _org_members()(organization_id=organization_id, roles=roles)
        publish_to_users([*member_ids, *extra], event_type, payload)
        return
    event = envelope(event_type, payload)
    event_id = uuid.uuid4().hex

    def send() -> None:
        _group_send(
            [org_group(organization_id)],
            {"type": "org.event", "org_id": organization_id, "event_id": event_id, "event": event},
        )
        if extra:
            _group_send(
                [user_group(u) for u in extra],
                {"type": "event.message", "event_id": event_id, "event": event},
            )

    transaction.on_commit(send)


def broadcast(event_type: str, payload: dict[str, Any]) -> None:
    """Send an event to every connected socket."""
    _after_commit(
        [BROADCAST_GROUP], {"type": "event.message", "event": envelope(event_type, payload)}
    )


def close_session_sockets(session_id: int | str, code: int = CLOSE_UNAUTHORIZED) -> None:
    """Close the sockets of one sign-in (logout, session revoked)."""
    _after_commit([session_group(session_id)], {"type": "socket.close", "code": code})


def close_user_sockets(user_id: int, code: int = CLOSE_UNAUTHORIZED) -> None:
    """Close all of a user's sockets (deactivation, deletion)."""
    _after_commit([user_group(user_id)], {"type": "socket.close", "code": code})
