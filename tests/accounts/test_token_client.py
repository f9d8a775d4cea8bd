"""A REST client that only uses `POST /auth/token` and `Authorization: Bearer` (no cookies, no
CSRF token) can do everything the browser can in the auth and account API."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from tests.accounts.helpers import totp_code
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to((int(time.time()) // 30 + 1) * 30 + 10, tick=False)
    return time_machine


def bearer(token: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)  # CSRF is enforced, and not needed
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_client_signs_in_manages_2fa_and_sessions_refreshes_and_signs_out(alice, frozen):
    anonymous = APIClient(enforce_csrf_checks=True)
    tokens = anonymous.post(
        "/api/v1/auth/token", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    ).json()
    assert tokens["token_type"] == "Bearer" and not anonymous.cookies.get("auth_token")
    client = bearer(tokens["access_token"])

    assert client.get("/api/v1/auth/me").json()["data"]["email"] == alice.email
    assert client.post("/api/v1/users/me/2fa/setup").status_code == 200
    codes = client.post(
        "/api/v1/users/me/2fa/verify", {"code": totp_code(alice)}, format="json"
    ).json()["backup_codes"]
    assert client.get("/api/v1/users/me/2fa/status").json()["enabled"] is True
    assert len(client.get("/api/v1/users/me/sessions").json()) == 1
    assert client.get("/api/v1/users/me/login-history").json()["total"] == 1
    assert client.get("/api/v1/auth/oauth/providers").json() == {"providers": []}

    # A second sign-in needs the second factor; the first session can be revoked from it.
    second = anonymous.post(
        "/api/v1/auth/token",
        {"email": alice.email, "password": DEFAULT_PASSWORD, "otp_code": codes[0]},
        format="json",
    ).json()
    other = bearer(second["access_token"])
    revoked = other.delete("/api/v1/users/me/sessions")
    assert revoked.status_code == 200 and revoked.json()["data"] == {"revoked": 1}
    stale = anonymous.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert stale.status_code == 401 and stale.json()["error"] == "TOKEN_INVALID"

    rotated = anonymous.post(
        "/api/v1/auth/token/refresh", {"refresh_token": second["refresh_token"]}, format="json"
    ).json()
    final = bearer(rotated["access_token"])
    assert final.get("/api/v1/auth/me").status_code == 200
    out = final.post(
        "/api/v1/auth/logout", {"refresh_token": rotated["refresh_token"]}, format="json"
    )
    assert out.status_code == 200
    gone = final.get("/api/v1/auth/me")
    assert gone.status_code == 401 and gone.json()["error"] == "TOKEN_INVALID"
