"""Maintenance mode (contract §0.12)."""

from __future__ import annotations

import pytest

from security.services import system_settings_update

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


@pytest.fixture
def maintenance(superadmin):
    system_settings_update(
        values={"maintenance_mode": True, "maintenance_message": "Back at 10:00 UTC"},
        actor=superadmin,
    )


def test_api_requests_get_503_maintenance(api, alice, maintenance):
    api.force_login(alice)
    response = api.get("/api/v1/_private")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "MAINTENANCE"
    assert body["message"] == "Back at 10:00 UTC"
    assert response["Retry-After"] == "300"


def test_pages_show_the_maintenance_page(client, maintenance):
    response = client.get("/")
    assert response.status_code == 503
    assert b"Back at 10:00 UTC" in response.content


@pytest.mark.parametrize(
    "path",
    ["/health", "/health/live", "/api/v1/health/ready", "/metrics", "/api/v1/csrf-token", "/api/v1/auth/_probe",
     "/api/changelog", "/admin/login/", "/accounts/login/"],
)  # fmt: skip
def test_exempt_routes_keep_working(client, maintenance, path):
    assert client.get(path).status_code != 503


def test_the_stripe_webhook_keeps_working(client, maintenance):
    assert (
        client.post("/api/v1/webhooks/stripe", {}, content_type="application/json").status_code
        == 200
    )


def test_staff_are_let_through(api, staff, maintenance):
    api.force_login(staff)
    assert api.get("/api/v1/_private").status_code == 200


def test_turning_maintenance_off_takes_effect_at_once(client, superadmin, maintenance):
    assert client.get("/").status_code == 503
    system_settings_update(values={"maintenance_mode": False}, actor=superadmin)
    assert client.get("/").status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_turning_maintenance_on_broadcasts_to_every_socket(superadmin):
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    layer = get_channel_layer()  # one event loop throughout, as a consumer has
    channel = await layer.new_channel()
    await layer.group_add("broadcast", channel)
    await sync_to_async(system_settings_update)(values={"maintenance_mode": True}, actor=superadmin)
    by_type: dict[str, dict] = {}
    while not {"cache_invalidate", "broadcast"} <= set(by_type):
        event = (await asyncio.wait_for(layer.receive(channel), timeout=5))["event"]
        by_type.setdefault(event["type"], event["payload"])
    assert by_type["cache_invalidate"]["queryKeys"] == ["settings"]
    assert by_type["broadcast"]["type"] == "warning"
    assert by_type["broadcast"]["title"] == "Maintenance"
