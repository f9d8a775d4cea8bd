"""Rate limits and idempotency keys see token clients as their user."""

from __future__ import annotations

import time

import pytest

from accounts.auth.sessions import RequestMeta, session_create
from security.services import system_settings_update

pytestmark = pytest.mark.django_db


def bearer(user) -> str:
    sign_in = session_create(
        user=user, meta=RequestMeta(ip="127.0.0.1", user_agent=""), method="password"
    )
    return f"Bearer {sign_in.access.token}"


def test_the_api_tier_counts_bearer_clients_per_user(
    api, alice, bob, superadmin, time_machine, settings
):
    time_machine.move_to((int(time.time()) // 60 + 1) * 60 + 5, tick=False)
    settings.RATE_LIMIT_IP_PER_MINUTE = 1000
    system_settings_update(values={"rate_limit_api_per_minute": 2}, actor=superadmin)
    alice_auth, bob_auth = bearer(alice), bearer(bob)
    codes = [
        api.get("/api/v1/admin/settings", HTTP_AUTHORIZATION=alice_auth).status_code
        for _ in range(3)
    ]
    assert codes == [403, 403, 429]
    assert api.get("/api/v1/admin/settings", HTTP_AUTHORIZATION=bob_auth).status_code == 403


def test_staff_with_a_token_pass_maintenance(api, staff, superadmin):
    system_settings_update(values={"maintenance_mode": True}, actor=superadmin)
    assert api.get("/api/v1/admin/settings", HTTP_AUTHORIZATION=bearer(staff)).status_code == 200
    assert (
        api.get("/api/v1/users/me/sessions", HTTP_AUTHORIZATION=bearer(superadmin)).status_code
        == 200
    )
