"""Publishing real-time events (contract §12) through the channel layer to `/ws` sockets.

The publish helpers are synchronous and defer the send with `transaction.on_commit`; these
tests call them through `sync_to_async`, so the send runs on the test's event loop, where the
in-memory channel layer and the sockets live. With `transaction=True` and no atomic block,
on_commit callbacks run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.models import User
from config import realtime
from organizations.models import Membership, MembershipStatus, OrgRole
from tests.socket_fixtures import (  # noqa: F401  (autouse fixtures)
    _close_worker_thread_connections,
    _in_memory_channel_layer,
)
from tests.test_websocket import SocketCommunicator, sign_in, socket_headers

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

TIMEOUT = 5
QUIET = 0.3  # how long "nothing arrives" is watched

Connect = Callable[..., Awaitable[SocketCommunicator]]


@pytest_asyncio.fixture
async def connect() -> AsyncIterator[Connect]:
    """`await connect(user)` signs the user in (a new session) and opens a socket;
    `await connect(cookie=...)` opens another socket on an existing session."""
    opened: list[SocketCommunicator] = []

    async def _connect(
        user: User | None = None, *, cookie: str | None = None
    ) -> SocketCommunicator:
        if cookie is None:
            assert user is not None
            cookie = await sync_to_async(sign_in)(user)
        socket = SocketCommunicator(socket_headers(cookie))
        opened.append(socket)
        assert await socket.connect(), "the socket was not accepted"
        assert await socket.receive_nothing(timeout=0.05), "the socket was closed at once"
        socket.cookie = cookie
        return socket

    yield _connect
    for socket in opened:
        await socket.disconnect(timeout=TIMEOUT)
    await get_channel_layer().flush()


async def receive_event(socket: SocketCommunicator) -> dict[str, Any]:
    return await socket.receive_json_from(timeout=TIMEOUT)


async def assert_closed_with(socket: SocketCommunicator, code: int) -> None:
    assert await socket.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": code}


async def publish_to_user(user_id: int, event_type: str, payload: dict[str, Any]) -> None:
    await sync_to_async(realtime.publish_to_user)(user_id, event_type, payload)


# --- publish_to_user --------------------------------------------------------------------------


async def test_publish_to_user_delivers_the_envelope(connect, alice):
    socket = await connect(alice)
    await publish_to_user(alice.pk, "user_update", {"field": "profile"})
    event = await receive_event(socket)
    assert set(event) == {"type", "payload", "timestamp"}
    assert event["type"] == "user_update"
    assert event["payload"] == {"field": "profile"}


async def test_publish_to_user_reaches_every_socket_of_that_user(connect, alice):
    first = await connect(alice)
    second = await connect(alice)  # another sign-in (another tab, another browser)
    third = await connect(cookie=first.cookie)  # another tab of the first sign-in
    await publish_to_user(alice.pk, "notification_new", {"id": 7})
    for socket in (first, second, third):
        assert (await receive_event(socket))["payload"] == {"id": 7}


async def test_publish_to_user_does_not_reach_other_users(connect, alice, bob):
    await connect(alice)
    bobs = await connect(bob)
    await publish_to_user(alice.pk, "notification_new", {"id": 7})
    assert await bobs.receive_nothing(timeout=QUIET)


async def test_the_payload_keys_are_camel_cased_at_every_depth(connect, alice):
    socket = await connect(alice)
    await publish_to_user(
        alice.pk,
        "usage_alert",
        {
            "alert_type": "warning",
            "percentage_used": 80,
            "line_2_total": 1,
            "suggested_plan": {"price_id": "price_1", "plan_limits": {"api_calls": 10}},
            "recent_events": [{"usage_type": "api_calls"}, "plain_string_value"],
        },
    )
    payload = (await receive_event(socket))["payload"]
    assert payload == {
        "alertType": "warning",
        "percentageUsed": 80,
        "line2Total": 1,
        "suggestedPlan": {"priceId": "price_1", "planLimits": {"apiCalls": 10}},
        "recentEvents": [{"usageType": "api_calls"}, "plain_string_value"],
    }


async def test_the_envelope_timestamp_is_iso_8601_utc_ending_with_z(connect, alice):
    socket = await connect(alice)
    await publish_to_user(alice.pk, "user_update", {"field": "role"})
    timestamp = (await receive_event(socket))["timestamp"]
    assert timestamp.endswith("Z")
    assert abs(datetime.now(UTC) - datetime.fromisoformat(timestamp)) < timedelta(seconds=5)


# --- After commit -----------------------------------------------------------------------------


async def test_an_event_is_sent_only_once_the_transaction_commits(connect, alice):
    socket = await connect(alice)

    def publish_in_a_transaction() -> bool:
        with transaction.atomic():
            realtime.publish_to_user(alice.pk, "user_update", {"field": "profile"})
            return async_to_sync(socket.receive_nothing)(QUIET)

    nothing_before_commit = await sync_to_async(publish_in_a_transaction)()
    assert nothing_before_commit, "the event was sent before the transaction committed"
    assert (await receive_event(socket))["type"] == "user_update"


async def test_nothing_is_sent_when_the_transaction_rolls_back(connect, alice):
    socket = await connect(alice)

    def publish_then_roll_back() -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            realtime.publish_to_user(alice.pk, "user_update", {"field": "profile"})
            raise RuntimeError("the write failed")

    await sync_to_async(publish_then_roll_back)()
    assert await socket.receive_nothing(timeout=QUIET)


async def test_a_failed_push_does_not_fail_the_write(monkeypatch):
    attempts: list[str] = []

    class BrokenLayer:
        async def group_send(self, group: str, message: dict[str, Any]) -> None:
            attempts.append(group)
            raise ConnectionError("redis is down")

    monkeypatch.setattr(realtime, "get_channel_layer", BrokenLayer)
    await sync_to_async(realtime.publish_to_users)([1, 2], "notification_new", {"id": 1})
    assert attempts == ["user.1", "user.2"]  # each group tried, no exception escaped


# --- broadcast --------------------------------------------------------------------------------


async def test_broadcast_reaches_every_connected_socket(connect, alice, bob, charlie):
    sockets = [
        await connect(alice),
        await connect(alice),
        await connect(bob),
        await connect(charlie),
    ]
    await sync_to_async(realtime.broadcast)("cache_invalidate", {"query_keys": ["featureFlags"]})
    for socket in sockets:
        event = await receive_event(socket)
        assert event["type"] == "cache_invalidate"
        assert event["payload"] == {"queryKeys": ["featureFlags"]}


# --- publish_to_org ---------------------------------------------------------------------------


async def publish_to_org(organization_id: int, **kwargs: Any) -> None:
    await sync_to_async(realtime.publish_to_org)(
        organization_id, "org_update", {"org_slug": "acme", "event": "settings_changed"}, **kwargs
    )


async def test_publish_to_org_reaches_its_active_members(connect, acme, alice, bob):
    sockets = [await connect(alice), await connect(bob)]
    await publish_to_org(acme.pk)
    for socket in sockets:
        event = await receive_event(socket)
        assert event["type"] == "org_update"
        assert event["payload"] == {"orgSlug": "acme", "event": "settings_changed"}


async def test_publish_to_org_does_not_reach_outsiders(connect, acme, globex, charlie):
    socket = await connect(charlie)
    await publish_to_org(acme.pk)
    assert await socket.receive_nothing(timeout=QUIET)


async def test_publish_to_org_skips_inactive_memberships(connect, acme, bob):
    await Membership.objects.filter(organization=acme, user=bob).aupdate(
        status=MembershipStatus.INACTIVE
    )
    socket = await connect(bob)
    await publish_to_org(acme.pk)
    assert await socket.receive_nothing(timeout=QUIET)


async def test_publish_to_org_can_be_limited_to_roles(connect, acme, alice, bob):
    owner, member = await connect(alice), await connect(bob)
    await publish_to_org(acme.pk, roles=[OrgRole.OWNER, OrgRole.ADMIN])
    assert (await receive_event(owner))["type"] == "org_update"
    assert await member.receive_nothing(timeout=QUIET)


async def test_publish_to_org_also_reaches_a_user_just_removed(connect, acme, bob):
    await Membership.objects.filter(organization=acme, user=bob).adelete()
    socket = await connect(bob)
    await publish_to_org(acme.pk, also_user_ids=[bob.pk])
    assert (await receive_event(socket))["type"] == "org_update"


async def test_a_member_also_named_as_extra_recipient_gets_the_event_once(connect, acme, alice):
    socket = await connect(alice)
    await publish_to_org(acme.pk, also_user_ids=[alice.pk])
    assert (await receive_event(socket))["type"] == "org_update"
    assert await socket.receive_nothing(timeout=QUIET)


async def test_an_org_event_is_one_message_however_many_members(monkeypatch, acme):
    from tests.factories import MembershipFactory

    for _ in range(30):
        await sync_to_async(MembershipFactory)(organization=acme)
    sent: list[str] = []
    layer = get_channel_layer()
    group_send = layer.group_send

    async def counting(group: str, message: dict[str, Any]) -> None:
        sent.append(group)
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", counting)
    await publish_to_org(acme.pk)
    assert sent == [realtime.org_group(acme.pk)]


async def test_a_member_removed_while_connected_hears_it_once_and_then_nothing(
    connect, acme, alice, bob
):
    from organizations.access import OrgActor
    from organizations.services import member_remove, organization_update

    socket = await connect(bob)
    owner = OrgActor(organization=acme, role=OrgRole.OWNER, user=alice)
    await sync_to_async(member_remove)(actor=owner, user_id=bob.pk)
    event = await receive_event(socket)
    assert (event["type"], event["payload"]["event"]) == ("member_update", "removed")
    assert await socket.receive_nothing(timeout=QUIET), "the removal reached bob twice"
    await sync_to_async(organization_update)(actor=owner, name="Acme Renamed")
    assert await socket.receive_nothing(timeout=QUIET), "a former member still hears the org"


async def test_a_user_who_joins_while_connected_hears_the_org_from_then_on(connect, acme, charlie):
    from organizations.access import OrgActor
    from organizations.services import organization_update

    socket = await connect(charlie)
    await Membership.objects.acreate(organization=acme, user=charlie, role=OrgRole.MEMBER)
    await sync_to_async(realtime.member_orgs_changed)(charlie.pk)  # what the services call
    groups = get_channel_layer().groups  # the in-memory layer's: the resync is asynchronous
    for _ in range(100):
        if groups.get(realtime.org_group(acme.pk)):
            break
        await asyncio.sleep(0.02)
    await sync_to_async(organization_update)(
        actor=OrgActor(organization=acme, role=OrgRole.OWNER), name="Acme Joined"
    )
    assert (await receive_event(socket))["type"] == "org_update"


@pytest.mark.parametrize("resync_delay", [0, 0.3])
async def test_a_user_who_accepts_an_invitation_while_connected_hears_it_once(
    connect, acme, alice, charlie, monkeypatch, resync_delay
):
    """The new member's sockets may not have joined the org's group when the "added" event
    leaves (a slow resync: 0.3 s): it reaches them through their own group, and once even when
    the group's copy arrives too (no delay)."""
    import time
    from datetime import timedelta

    from config import consumers

    def slow(user_id: int) -> set[int]:
        time.sleep(resync_delay)
        return realtime.member_org_ids(user_id)

    from django.utils import timezone

    from organizations.models import Invitation
    from organizations.services import invitation_accept
    from security.crypto import token_hash

    socket = await connect(charlie)
    monkeypatch.setattr(consumers, "member_org_ids", slow)
    await Invitation.objects.acreate(
        organization=acme,
        email=charlie.email,
        role=OrgRole.MEMBER,
        token_hash=token_hash("invite-charlie"),
        expires_at=timezone.now() + timedelta(days=1),
        invited_by=alice,
    )
    await sync_to_async(invitation_accept)(token="invite-charlie", user=charlie)
    events = [await receive_event(socket)]  # waits out the slow resync
    with contextlib.suppress(TimeoutError):
        while True:
            events.append(await socket.receive_json_from(timeout=QUIET + resync_delay))
    added = [e for e in events if e["type"] == "member_update" and e["payload"]["event"] == "added"]
    assert len(added) == 1, events


# --- Closing sockets --------------------------------------------------------------------------


async def test_close_session_sockets_closes_the_sockets_of_that_sign_in(connect, alice):
    first_tab = await connect(alice)
    second_tab = await connect(cookie=first_tab.cookie)
    other_sign_in = await connect(alice)
    await sync_to_async(realtime.close_session_sockets)(f"django-{first_tab.cookie}")
    await assert_closed_with(first_tab, 4401)
    await assert_closed_with(second_tab, 4401)
    assert await other_sign_in.receive_nothing(timeout=QUIET)


async def test_close_user_sockets_closes_all_of_that_users_sockets(connect, alice, bob):
    alices = [await connect(alice), await connect(alice)]
    bobs = await connect(bob)
    await sync_to_async(realtime.close_user_sockets)(alice.pk)
    for socket in alices:
        await assert_closed_with(socket, 4401)
    assert await bobs.receive_nothing(timeout=QUIET)


async def test_close_user_sockets_can_use_another_close_code(connect, alice):
    socket = await connect(alice)
    await sync_to_async(realtime.close_user_sockets)(alice.pk, code=4403)
    await assert_closed_with(socket, 4403)


async def test_a_closed_socket_is_sent_nothing_more(connect, alice):
    socket = await connect(alice)

    def close_then_publish() -> None:  # e.g. deactivation: close, then a late event
        realtime.close_user_sockets(alice.pk)
        realtime.publish_to_user(alice.pk, "user_update", {"field": "role"})

    await sync_to_async(close_then_publish)()
    await assert_closed_with(socket, 4401)
    assert await socket.receive_nothing(timeout=QUIET)


async def test_a_socket_closed_twice_gets_a_single_close(connect, alice):
    socket = await connect(alice)

    def revoke_then_deactivate() -> None:
        realtime.close_session_sockets(f"django-{socket.cookie}")
        realtime.close_user_sockets(alice.pk)

    await sync_to_async(revoke_then_deactivate)()
    await assert_closed_with(socket, 4401)
    assert await socket.receive_nothing(timeout=QUIET)
