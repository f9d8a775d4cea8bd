"""IP blocklist (contract §13.7, §11): refused before authentication, cheap, live at once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.utils import timezone

from security import blocklist, services
from security.models import AuditLog, BlockType, IPBlock

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api, staff):
    api.force_login(staff)
    return api


def block(**kwargs) -> IPBlock:
    return services.ip_block_create(actor=None, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "ip", "blocked"),
    [
        ({"ip_address": "203.0.113.7"}, "203.0.113.7", True),
        ({"ip_address": "203.0.113.7"}, "203.0.113.8", False),
        ({"ip_range": "198.51.100.0/24"}, "198.51.100.200", True),
        ({"ip_range": "198.51.100.0/24"}, "198.51.101.1", False),
        ({"ip_range": "2001:db8::/32"}, "2001:db8:ffff::1", True),
        ({"ip_range": "2001:db8::/32"}, "2001:db9::1", False),
        ({"ip_address": "2001:db8::7"}, "2001:db8:0:0:0:0:0:7", True),
        ({"ip_address": "203.0.113.7"}, "::ffff:203.0.113.7", True),
        ({"ip_range": "10.0.0.0/8"}, "not-an-ip", False),
    ],
)
def test_it_matches_addresses_and_ranges(kwargs, ip, blocked):
    block(**kwargs)
    assert (blocklist.find_block(ip) is not None) is blocked


def test_expired_and_lifted_blocks_do_not_match(staff):
    expired = block(ip_address="203.0.113.1", expires_at=timezone.now() + timedelta(seconds=1))
    IPBlock.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    blocklist.reset_local()
    lifted = block(ip_address="203.0.113.2")
    services.ip_block_deactivate(block_id=lifted.pk, actor=staff)
    assert blocklist.find_block("203.0.113.1") is None
    assert blocklist.find_block("203.0.113.2") is None


def test_a_block_that_expires_while_cached_stops_matching(time_machine):
    time_machine.move_to(timezone.now())
    block(ip_address="203.0.113.9", expires_at=timezone.now() + timedelta(minutes=5))
    assert blocklist.find_block("203.0.113.9") is not None
    time_machine.shift(timedelta(minutes=6))
    assert blocklist.find_block("203.0.113.9") is None


def test_blocked_api_requests_get_403_before_authentication(api, alice):
    block(ip_address="203.0.113.7")
    api.force_login(alice)
    response = api.get("/api/v1/admin/settings", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    assert response.json()["error"] == "IP_BLOCKED"
    assert response.json()["message"] == "Access denied"
    anonymous = api.__class__().get("/api/v1/does-not-exist", REMOTE_ADDR="203.0.113.7")
    assert anonymous.json()["error"] == "IP_BLOCKED"


def test_blocked_browsers_get_a_plain_page(client):
    block(ip_range="198.51.100.0/24")
    response = client.get("/", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"Access denied" in response.content


def test_health_and_metrics_are_never_blocked(client):
    block(ip_address="203.0.113.7")
    for path in ("/health/live", "/api/v1/health/live", "/metrics"):
        assert client.get(path, REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_blocklist_uses_the_client_ip_behind_trusted_proxies(client, settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    block(ip_address="203.0.113.7")
    response = client.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert response.status_code == 403
    assert (
        client.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code
        == 200
    )


def test_lookups_need_no_query_per_request(client, django_assert_num_queries):
    block(ip_address="203.0.113.7")
    blocklist.find_block("1.1.1.1")  # load once
    with django_assert_num_queries(0):
        for _ in range(5):
            assert blocklist.find_block("1.1.1.1") is None
            assert blocklist.find_block("203.0.113.7") is not None


def test_hits_are_counted(client):
    entry = block(ip_address="203.0.113.7")
    for _ in range(3):
        client.get("/", REMOTE_ADDR="203.0.113.7")
    blocklist.flush_hits()
    entry.refresh_from_db()
    assert entry.hit_count == 3
    assert entry.last_hit_at is not None


def wait_for_hit_count(entry: IPBlock, expected: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        entry.refresh_from_db()
        if entry.hit_count == expected or time.monotonic() > deadline:
            return entry.hit_count
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_last_hits_of_a_burst_are_written_without_another_hit(client, monkeypatch):
    monkeypatch.setattr(blocklist, "HIT_FLUSH_SECONDS", 0.2)
    entry = block(ip_address="203.0.113.7")
    for _ in range(3):
        client.get("/", REMOTE_ADDR="203.0.113.7")
    assert wait_for_hit_count(entry, 3) == 3
    assert entry.last_hit_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_web_process_writes_its_pending_hits_when_it_shuts_down(client):
    from config.asgi import application

    entry = block(ip_address="203.0.113.7")
    for _ in range(3):
        client.get("/", REMOTE_ADDR="203.0.113.7")

    async def lifespan() -> list[str]:
        communicator = ApplicationCommunicator(application, {"type": "lifespan"})
        await communicator.send_input({"type": "lifespan.startup"})
        started = await communicator.receive_output(timeout=5)
        await communicator.send_input({"type": "lifespan.shutdown"})
        stopped = await communicator.receive_output(timeout=5)
        return [started["type"], stopped["type"]]

    assert async_to_sync(lifespan)() == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    entry.refresh_from_db()
    assert entry.hit_count == 3


def test_a_lifted_block_stops_refusing_at_once(client, staff):
    entry = block(ip_address="203.0.113.7")
    assert client.get("/", REMOTE_ADDR="203.0.113.7").status_code == 403
    services.ip_block_deactivate(block_id=entry.pk, actor=staff)
    assert client.get("/", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_staff_list_create_and_lift_blocks(admin_api, staff):
    created = admin_api.post(
        "/api/v1/admin/ip-blocklist",
        {"ip_address": "203.0.113.7", "reason": "scraper", "expires_in_hours": 2},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {
        "id", "ip_address", "ip_range", "reason", "block_type", "hit_count", "expires_at", "is_active", "created_at"
    }  # fmt: skip
    assert (
        body["ip_address"] == "203.0.113.7" and body["block_type"] == "manual" and body["is_active"]
    )
    assert body["expires_at"] is not None
    listed = admin_api.get("/api/v1/admin/ip-blocklist").json()
    assert [b["id"] for b in listed] == [body["id"]]
    lifted = admin_api.delete(f"/api/v1/admin/ip-blocklist/{body['id']}")
    assert lifted.json() == {"success": True, "message": "IP unblocked successfully"}
    assert admin_api.get("/api/v1/admin/ip-blocklist").json() == []
    assert len(admin_api.get("/api/v1/admin/ip-blocklist?include_inactive=true").json()) == 1
    assert list(AuditLog.objects.values_list("action", flat=True).order_by("id")) == [
        "ip_block",
        "ip_unblock",
    ]


def test_ranges_are_accepted_in_ip_address_as_the_react_client_sends_them(admin_api):
    body = admin_api.post(
        "/api/v1/admin/ip-blocklist", {"ip_address": "198.51.100.0/24"}, format="json"
    ).json()
    assert body["ip_range"] == "198.51.100.0/24"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ip_address": "300.1.1.1"}, "ip_address"),
        ({"ip_range": "10.0.0.0/33"}, "ip_range"),
        ({"ip_range": "banana/8"}, "ip_range"),
        ({"ip_range": "0.0.0.0/0"}, "ip_range"),
        ({}, "ip_address"),
        ({"ip_address": "203.0.113.7", "block_type": "nuke"}, "block_type"),
        ({"ip_address": "203.0.113.7", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"ip_address": "203.0.113.7", "expires_in_hours": -3}, "expires_in_hours"),
    ],
)
def test_bad_blocks_are_400_with_the_field_and_nothing_is_stored(admin_api, payload, field):
    response = admin_api.post("/api/v1/admin/ip-blocklist", payload, format="json")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert not IPBlock.objects.exists()


def test_a_duplicate_block_is_409(admin_api):
    admin_api.post("/api/v1/admin/ip-blocklist", {"ip_address": "203.0.113.7"}, format="json")
    response = admin_api.post(
        "/api/v1/admin/ip-blocklist", {"ip_address": "203.0.113.7"}, format="json"
    )
    assert response.status_code == 409
    assert IPBlock.objects.count() == 1


def test_staff_cannot_block_themselves(admin_api):
    response = admin_api.post(
        "/api/v1/admin/ip-blocklist",
        {"ip_range": "127.0.0.0/8"},
        format="json",
        REMOTE_ADDR="127.0.0.1",
    )
    assert response.status_code == 400
    assert "your own IP" in response.json()["message"]


def test_lifting_an_unknown_block_is_404(admin_api):
    assert admin_api.delete("/api/v1/admin/ip-blocklist/999").status_code == 404


def test_members_cannot_manage_the_blocklist(api, alice):
    api.force_login(alice)
    assert api.get("/api/v1/admin/ip-blocklist").status_code == 403
    assert (
        api.post("/api/v1/admin/ip-blocklist", {"ip_address": "1.2.3.4"}, format="json").status_code
        == 403
    )
    assert not IPBlock.objects.exists()


def test_the_admin_action_blocks_the_ip_of_audit_entries(client, superadmin):
    from security.models import AuditLog

    entry = AuditLog.objects.create(action="login", target_type="user", ip_address="203.0.113.50")
    client.force_login(superadmin)
    response = client.post(
        "/admin/security/auditlog/",
        {"action": "block_ip_addresses", "_selected_action": [entry.pk]},
    )
    assert response.status_code == 302
    assert IPBlock.objects.filter(ip_address="203.0.113.50", block_type=BlockType.MANUAL).exists()
