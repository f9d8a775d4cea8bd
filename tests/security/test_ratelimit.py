"""Rate limits (contract §0.9): sliding windows, 429 with headers, tiers, live settings."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from security import ratelimit
from security.models import BlockType, IPBlock
from security.services import system_settings_update

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


@pytest.fixture
def frozen(time_machine):
    """Freeze time at the start of a window plus 10 s (tick=False: time stands still)."""
    start = (int(time.time()) // 60 + 1) * 60 + 10
    time_machine.move_to(start, tick=False)
    return time_machine


@pytest.fixture
def ip_limit_60(monkeypatch):
    """The ip tier at 60/min, small enough for the window arithmetic below."""
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 60)


def test_the_ip_tier_refuses_the_601st_request_in_a_minute(client, frozen):
    for i in range(600):
        response = client.get("/api/v1/does-not-exist")
        assert response.status_code == 404, i
    refused = client.get("/api/v1/does-not-exist")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "RATE_LIMITED"
    assert body["message"] == "Too many requests. Please try again later."
    assert int(refused["Retry-After"]) == body["retry_after"] > 0
    assert refused["X-RateLimit-Limit"] == "600"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["X-RateLimit-Reset"]) > time.time()


def test_every_limited_response_carries_the_headers(client, frozen):
    first = client.get("/api/v1/does-not-exist")
    second = client.get("/api/v1/does-not-exist")
    assert first["X-RateLimit-Limit"] == "600"
    assert int(first["X-RateLimit-Remaining"]) == 599
    assert int(second["X-RateLimit-Remaining"]) == 598
    assert int(first["X-RateLimit-Reset"]) % 60 == 0


def test_the_headers_show_the_tightest_tier(client, frozen):
    response = client.get("/api/v1/csrf-token")  # ip tier 600 + user tier 300
    assert response["X-RateLimit-Limit"] == "300"


def test_the_window_slides_and_the_limit_resets(client, frozen, ip_limit_60):
    for _ in range(60):
        client.get("/api/v1/does-not-exist")
    refused = client.get("/api/v1/does-not-exist")
    assert refused.status_code == 429
    frozen.shift(int(refused["Retry-After"]))
    assert client.get("/api/v1/does-not-exist").status_code == 404
    frozen.shift(120)
    for _ in range(60):
        assert client.get("/api/v1/does-not-exist").status_code == 404


def test_refused_requests_do_not_count(client, frozen, ip_limit_60):
    for _ in range(60):
        client.get("/api/v1/does-not-exist")
    for _ in range(10):
        assert client.get("/api/v1/does-not-exist").status_code == 429
    frozen.shift(
        55
    )  # 5 s into the next window the old 60 weigh 55: room for 5 (none if 70 counted)
    allowed = sum(client.get("/api/v1/does-not-exist").status_code == 404 for _ in range(20))
    assert allowed == 5


def test_limits_are_per_ip(client, frozen, ip_limit_60):
    for _ in range(60):
        client.get("/api/v1/does-not-exist", REMOTE_ADDR="198.51.100.1")
    assert client.get("/api/v1/does-not-exist", REMOTE_ADDR="198.51.100.1").status_code == 429
    assert client.get("/api/v1/does-not-exist", REMOTE_ADDR="198.51.100.2").status_code == 404


def test_health_metrics_and_the_stripe_webhook_are_never_limited(client, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1)
    for _ in range(5):
        assert client.get("/health/live").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert (
            client.post("/api/v1/webhooks/stripe", {}, content_type="application/json").status_code
            == 200
        )


def test_the_login_limit_follows_the_setting_without_restart(client, staff, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    monkeypatch.setattr(django_settings, "RATE_LIMIT_AUTH_PER_MINUTE", 1000)
    codes = [
        client.post("/api/v1/auth/login", {}, content_type="application/json").status_code
        for _ in range(11)
    ]
    assert codes[:10] == [400] * 10 and codes[10] == 429  # empty body: 400 until limited
    system_settings_update(values={"rate_limit_login_per_minute": 12}, actor=staff)
    assert client.post("/api/v1/auth/login", {}, content_type="application/json").status_code == 400
    lowered = system_settings_update(values={"rate_limit_login_per_minute": 3}, actor=staff)
    assert lowered
    response = client.post("/api/v1/auth/token", {}, content_type="application/json")
    assert response.status_code == 429
    assert response["X-RateLimit-Limit"] == "3"


def test_the_auth_tier_is_shared_by_the_auth_endpoints(client, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    monkeypatch.setattr(django_settings, "RATE_LIMIT_AUTH_PER_MINUTE", 4)
    paths = [
        "/api/v1/auth/reset-password",
        "/api/v1/auth/verify-email",
        "/api/auth/oauth/google",
        "/api/v1/auth/github",
    ]
    # Each answers in its own way (405 wrong method, 400 missing token, 404 unconfigured
    # provider, 302 to the front end's login)…
    assert [client.get(p).status_code for p in paths] == [405, 400, 404, 302]
    # …but all four counted toward the one auth tier.
    assert client.get("/api/v1/auth/reset-password/confirm").status_code == 429


def test_the_api_tier_counts_per_principal(api, alice, bob, frozen, monkeypatch, staff):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    system_settings_update(values={"rate_limit_api_per_minute": 2}, actor=staff)
    api.force_login(alice)
    assert [api.get("/api/v1/organizations").status_code for _ in range(3)] == [200, 200, 429]
    api.force_login(bob)  # same IP, another principal
    assert api.get("/api/v1/organizations").status_code == 200


def test_users_me_is_in_the_user_tier_not_the_api_tier(api, alice, frozen, monkeypatch, staff):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    system_settings_update(values={"rate_limit_api_per_minute": 1}, actor=staff)
    api.force_login(alice)
    assert [api.get("/api/v1/users/me").status_code for _ in range(3)] == [200, 200, 200]
    assert api.get("/api/v1/users").status_code != 429
    assert api.get("/api/v1/users").status_code == 429


def test_rate_limiting_can_be_disabled(client, frozen, settings, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1)
    settings.RATE_LIMIT_ENABLED = False
    assert [client.get("/api/v1/nope").status_code for _ in range(3)] == [404] * 3
    assert "X-RateLimit-Limit" not in client.get("/api/v1/nope")


def test_pages_get_a_friendly_429(client, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1)
    client.get("/")
    response = client.get("/")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "Retry-After" in response


def test_hammering_auth_blocks_the_ip_when_auto_block_is_on(client, staff, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    system_settings_update(
        values={
            "rate_limit_auto_block": True,
            "rate_limit_auto_block_threshold": 3,
            "rate_limit_login_per_minute": 1,
        },
        actor=staff,
    )
    for _ in range(4):
        client.post(
            "/api/v1/auth/login", {}, content_type="application/json", REMOTE_ADDR="203.0.113.66"
        )
    block = IPBlock.objects.get(ip_address="203.0.113.66")
    assert block.block_type == BlockType.AUTO_RATE_LIMIT
    assert block.expires_at is not None
    refused = client.get("/", REMOTE_ADDR="203.0.113.66")
    assert refused.status_code == 403


def test_auto_block_is_off_by_default(client, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 1000)
    for _ in range(40):
        client.post("/api/v1/auth/login", {}, content_type="application/json")
    assert not IPBlock.objects.exists()


@pytest.mark.parametrize(
    ("previous", "current", "limit", "elapsed", "expected"),
    [
        (0, 60, 60, 10, 51),  # wait for the next bucket, then 1/60 of it
        (60, 0, 60, 10, 1),  # 60 × (1 − 59/60) − 10 < 1 → 1
        (60, 30, 60, 0, 31),  # previous must decay from 60 to 29
    ],
)
def test_retry_after_is_when_one_more_request_fits(previous, current, limit, elapsed, expected):
    assert ratelimit._retry_after(previous, current, limit, elapsed) == expected
