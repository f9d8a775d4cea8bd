"""ACCOUNT_EMAIL_VERIFICATION=mandatory (contract §13.1): unverified users are held at 403
EMAIL_NOT_VERIFIED outside /auth/*, GET /users/me, /csrf-token and health."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def mandatory(settings):
    settings.EMAIL_VERIFICATION = "mandatory"


def register(api):
    response = api.post(
        "/api/v1/auth/register",
        {"name": "Una", "email": "una@example.com", "password": "Sup3rsecret"},
        format="json",
    )
    assert response.status_code == 201  # registration still signs in
    return response


def test_an_unverified_user_is_held_outside_the_exempt_routes(api, mandatory):
    register(api)
    refused = api.get("/api/v1/users/me/sessions")
    assert refused.status_code == 403 and refused.json()["error"] == "EMAIL_NOT_VERIFIED"
    assert api.get("/api/v1/auth/me").status_code == 200
    assert api.get("/api/v1/csrf-token").status_code == 200
    assert api.post("/api/v1/auth/verify-email/resend", {}, format="json").status_code == 200


def test_optional_mode_lets_unverified_users_in(api):
    register(api)
    assert api.get("/api/v1/users/me/sessions").status_code == 200


def test_verified_users_pass_in_mandatory_mode(api, alice, mandatory):
    api.force_authenticate(alice)
    assert api.get("/api/v1/users/me/sessions").status_code == 200
