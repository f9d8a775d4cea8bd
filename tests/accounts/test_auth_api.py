"""Authentication API (contract §2, §13.1–13.4): register, login, token, refresh, logout, me."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import LoginHistory, RotatedRefreshToken, TokenBlacklist, User, UserSession
from security.models import AuditLog
from security.services import system_settings_update
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def login(
    api, email="alice@example.com", password=DEFAULT_PASSWORD, path="/api/v1/auth/login", **extra
):
    return api.post(
        path, {"email": email, "password": password}, format="json", HTTP_USER_AGENT=UA, **extra
    )


# --- register ---------------------------------------------------------------------------------


def test_register_creates_a_signed_in_user(api):
    response = api.post(
        "/api/v1/auth/register",
        {"name": "Dana", "email": "Dana@Example.com", "password": "Sup3rsecret"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "token", "expires_in"}
    assert body["expires_in"] == 900
    assert body["user"]["email"] == "dana@example.com"
    assert body["user"]["role"] == "user" and body["user"]["email_verified"] is False
    assert response.cookies["auth_token"].value == body["token"]
    assert response.cookies["refresh_token"]["path"] == "/api/v1/auth"
    assert response.cookies["refresh_token"]["httponly"]
    assert int(response.cookies["refresh_token"]["max-age"]) == 10080 * 60
    assert int(response.cookies["auth_token"]["max-age"]) == 900
    user = User.objects.get(email="dana@example.com")
    assert UserSession.objects.filter(user=user).count() == 1
    assert AuditLog.objects.filter(action="register", actor=user).exists()


def test_register_refuses_a_taken_email_in_any_case(api, alice):
    response = api.post(
        "/api/v1/auth/register",
        {"name": "A", "email": "ALICE@example.com", "password": "Sup3rsecret"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["message"] == "email: An account with this email already exists"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Sh0rt", "password: Password must be at least 8 characters long"),
        ("alllowercase1", "password: Password must contain at least one uppercase letter"),
        ("ALLUPPERCASE1", "password: Password must contain at least one lowercase letter"),
        ("NoNumbersHere", "password: Password must contain at least one number"),
    ],
)
def test_register_applies_the_password_policy(api, password, message):
    response = api.post(
        "/api/v1/auth/register",
        {"name": "E", "email": "e@example.com", "password": password},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "VALIDATION_ERROR"
    assert response.json()["message"] == message
    assert not User.objects.filter(email="e@example.com").exists()


def test_the_password_policy_follows_the_settings(api, superadmin):
    system_settings_update(
        values={"password_min_length": 12, "password_require_special": True}, actor=superadmin
    )
    response = api.post(
        "/api/v1/auth/register",
        {"name": "E", "email": "e@example.com", "password": "Abcdefgh1234"},
        format="json",
    )
    assert (
        response.json()["message"]
        == "password: Password must contain at least one special character"
    )


@pytest.mark.parametrize(
    "payload", [{}, {"name": "x", "email": "not-an-email", "password": "Sup3rsecret"}]
)
def test_register_reports_field_errors(api, payload):
    response = api.post("/api/v1/auth/register", payload, format="json")
    assert response.status_code == 400
    assert response.json()["details"]


def test_register_can_be_disabled(api, superadmin):
    system_settings_update(values={"allow_registration": False}, actor=superadmin)
    response = api.post(
        "/api/v1/auth/register",
        {"name": "E", "email": "e@example.com", "password": "Sup3rsecret"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["error"] == "FORBIDDEN"


# --- login ------------------------------------------------------------------------------------


def test_login_returns_the_auth_response_and_records_the_session(api, alice):
    response = login(api, email="ALICE@example.com")
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == alice.pk and body["expires_in"] == 900
    claims = jwt.decode(body["token"], settings.JWT_SECRET, algorithms=["HS256"])
    assert {"user_id", "email", "role", "sid", "jti", "iat", "exp"} <= set(claims)
    session = UserSession.objects.get(pk=claims["sid"])
    assert session.device_info == "Chrome 131 on macOS" and session.device_type == "desktop"
    history = LoginHistory.objects.get(user=alice)
    assert history.success and history.auth_method == "password"
    alice.refresh_from_db()
    assert alice.last_login_at is not None


def test_login_with_a_wrong_password_is_401_and_counted(api, alice):
    response = login(api, password="wrong")
    assert response.status_code == 401
    assert response.json() == {
        **response.json(),
        "error": "UNAUTHORIZED",
        "message": "Invalid email or password",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")
    alice.refresh_from_db()
    assert alice.failed_login_attempts == 1
    assert LoginHistory.objects.get(user=alice).failure_reason == "invalid_password"


def test_login_with_an_unknown_email_is_the_same_401_and_writes_no_history(api):
    response = login(api, email="nobody@example.com")
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid email or password"
    assert not LoginHistory.objects.exists()


def test_the_account_locks_after_max_attempts_even_for_the_right_password(api, alice):
    codes = [login(api, password="wrong").status_code for _ in range(5)]
    assert codes == [401] * 5  # the locking attempt is still 401
    locked = login(api)
    assert locked.status_code == 429
    body = locked.json()
    assert body["error"] == "ACCOUNT_LOCKED"
    assert "Try again in 15 minutes" in body["message"]
    assert int(locked["Retry-After"]) > 800
    assert AuditLog.objects.filter(action="account_locked").count() == 1


def test_the_lock_follows_the_settings_and_expires(api, alice, superadmin, time_machine):
    time_machine.move_to(timezone.now())
    system_settings_update(
        values={"max_login_attempts": 2, "lockout_duration_minutes": 1}, actor=superadmin
    )
    login(api, password="wrong")
    login(api, password="wrong")
    assert login(api).status_code == 429
    time_machine.shift(timedelta(seconds=61))
    assert login(api).status_code == 200
    alice.refresh_from_db()
    assert alice.failed_login_attempts == 0 and alice.locked_until is None


def test_old_failures_do_not_count(api, alice, time_machine):
    time_machine.move_to(timezone.now())
    for _ in range(4):
        login(api, password="wrong")
    time_machine.shift(timedelta(minutes=16))
    login(api, password="wrong")
    assert login(api).status_code == 200


def test_a_deactivated_account_is_401_account_inactive(api, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = login(api)
    assert response.status_code == 401
    assert response.json()["error"] == "ACCOUNT_INACTIVE"


def test_a_soft_deleted_account_cannot_sign_in(api, alice):
    User.objects.filter(pk=alice.pk).update(deleted_at=timezone.now())
    assert login(api).json()["error"] == "UNAUTHORIZED"


def test_token_sign_in_returns_tokens_without_cookies(api, alice):
    response = login(api, path="/api/v1/auth/token")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert "auth_token" not in response.cookies and "refresh_token" not in response.cookies


# --- me and bearer tokens ---------------------------------------------------------------------


def test_me_answers_for_a_bearer_token(api, alice):
    token = login(api, path="/api/v1/auth/token").json()["access_token"]
    fresh = api.__class__()
    response = fresh.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["success"] is True and response.json()["data"]["id"] == alice.pk


def test_me_answers_for_the_cookie(api, alice):
    login(api)
    assert api.get("/api/v1/auth/me").json()["data"]["email"] == alice.email


def test_me_without_credentials_is_401(api):
    response = api.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["error"] == "UNAUTHORIZED"


def forge(alice, **overrides) -> str:
    now = int(timezone.now().timestamp())
    claims = {
        "user_id": alice.pk,
        "email": alice.email,
        "role": "user",
        "sid": 1,
        "jti": "x",
        "iat": now,
        "exp": now + 60,
    }
    claims.update(overrides)
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda a: forge(a, exp=int(timezone.now().timestamp()) - 5), "TOKEN_EXPIRED"),
        (
            lambda a: jwt.encode(
                {"user_id": a.pk, "sid": 1, "iat": 1, "exp": 9999999999},
                "wrong-secret-" * 4,
                algorithm="HS256",
            ),
            "TOKEN_INVALID",
        ),
        (
            lambda a: jwt.encode(
                {"user_id": a.pk, "sid": 1, "iat": 1, "exp": 9999999999}, None, algorithm="none"
            ),
            "TOKEN_INVALID",
        ),
        (lambda a: "not.a.jwt", "TOKEN_INVALID"),
        (lambda a: forge(a, user_id="1"), "TOKEN_INVALID"),
    ],
)
def test_bad_tokens_get_their_codes(api, alice, make_token, code):
    response = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {make_token(alice)}")
    assert response.status_code == 401
    assert response.json()["error"] == code


def test_a_token_of_a_deactivated_user_stops_working_at_once(api, alice):
    token = forge(alice)
    assert api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    alice.is_active = False
    alice.save()
    assert (
        api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()["error"]
        == "ACCOUNT_INACTIVE"
    )


def test_a_token_of_a_deleted_user_is_401_unauthorized(api, alice):
    token = forge(alice)
    alice.deleted_at = timezone.now()
    alice.save()
    assert (
        api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()["error"]
        == "UNAUTHORIZED"
    )


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_rotates_the_cookie_and_slides_the_session(api, alice):
    first = login(api)
    old_refresh = first.cookies["refresh_token"].value
    response = api.post("/api/v1/auth/refresh")
    assert response.status_code == 200
    new_refresh = response.cookies["refresh_token"].value
    assert new_refresh and new_refresh != old_refresh
    assert response.json()["token"] != first.json()["token"]
    assert RotatedRefreshToken.objects.count() == 1


def test_refresh_without_the_cookie_is_401_and_clears_cookies(api):
    response = api.post("/api/v1/auth/refresh")
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"
    assert response.cookies["auth_token"].value == ""
    assert response.cookies["refresh_token"].value == ""


def test_the_alias_path_does_not_receive_the_refresh_cookie(client, alice):
    # A browser sends the refresh cookie only under /api/v1/auth (its Path); simulate that.
    login(client)
    client.cookies.pop("refresh_token")
    assert client.post("/api/auth/refresh").status_code == 401


def test_reusing_a_rotated_refresh_token_revokes_the_session(api, alice, settings):
    settings.REFRESH_REUSE_GRACE_SECONDS = 0
    tokens = login(api, path="/api/v1/auth/token").json()
    rotated = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    ).json()
    reuse = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert reuse.status_code == 401 and reuse.json()["error"] == "TOKEN_INVALID"
    session = UserSession.objects.get(user=alice)
    assert session.revoked_at is not None and session.revoked_reason == "refresh_token_reuse"
    latest = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": rotated["refresh_token"]}, format="json"
    )
    assert latest.status_code == 401  # the whole session is gone
    assert AuditLog.objects.filter(action="refresh_token_reuse").exists()


def test_a_parallel_refresh_within_the_grace_period_is_accepted(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    first = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    second = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert first.status_code == second.status_code == 200
    assert UserSession.objects.get(user=alice).revoked_at is None


def test_an_expired_session_is_token_expired(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    UserSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.json()["error"] == "TOKEN_EXPIRED"


def test_an_unknown_refresh_token_is_token_invalid(api):
    response = api.post("/api/v1/auth/token/refresh", {"refresh_token": "nope"}, format="json")
    assert response.status_code == 401 and response.json()["error"] == "TOKEN_INVALID"


def test_refresh_tokens_are_stored_only_as_hashes(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    session = UserSession.objects.get(user=alice)
    assert tokens["refresh_token"] not in session.refresh_token_hash
    assert len(session.refresh_token_hash) == 64


def test_refresh_of_a_deactivated_user_is_account_inactive(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = api.post(
        "/api/v1/auth/token/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.json()["error"] == "ACCOUNT_INACTIVE"


# --- logout -----------------------------------------------------------------------------------


def test_logout_revokes_the_session_blacklists_the_token_and_clears_cookies(api, alice):
    token = login(api).json()["token"]
    response = api.post("/api/v1/auth/logout")
    assert response.json() == {"success": True, "message": "Logout successful"}
    assert response.cookies["auth_token"].value == ""
    assert UserSession.objects.get(user=alice).revoked_at is not None
    assert TokenBlacklist.objects.count() == 1
    fresh = api.__class__()
    revoked = fresh.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 401 and revoked.json()["error"] == "TOKEN_INVALID"


def test_logout_with_a_body_refresh_token_revokes_that_session(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    api.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert UserSession.objects.get(user=alice).revoked_at is not None


def test_logout_never_fails(api):
    assert api.post("/api/v1/auth/logout", HTTP_AUTHORIZATION="Bearer garbage").status_code == 200


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("{bad", "application/json"),
        ("refresh_token=x", "text/plain"),
        ("[1, 2]", "application/json"),
    ],
    ids=["malformed-json", "unsupported-media-type", "not-an-object"],
)
def test_logout_with_an_unreadable_body_still_signs_out(api, alice, body, content_type):
    token = login(api).json()["token"]
    response = api.post("/api/v1/auth/logout", body, content_type=content_type)
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Logout successful"}
    assert response.cookies["auth_token"].value == ""
    assert response.cookies["refresh_token"].value == ""
    assert UserSession.objects.get(user=alice).revoked_at is not None
    assert TokenBlacklist.objects.count() == 1
    fresh = api.__class__()
    revoked = fresh.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert revoked.status_code == 401


# --- sessions and login history ---------------------------------------------------------------


def test_sessions_list_marks_the_current_one(api, alice):
    other = api.__class__()
    login(other)
    token = login(api, path="/api/v1/auth/token").json()["access_token"]
    sessions = api.get("/api/v1/users/me/sessions", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(sessions) == 2
    assert [s["is_current"] for s in sessions].count(True) == 1
    assert all(
        isinstance(s["device_info"], str) and isinstance(s["location"], str) for s in sessions
    )


def test_revoking_other_sessions_keeps_the_current_one(api, alice):
    other = api.__class__()
    login(other)
    token = login(api, path="/api/v1/auth/token").json()["access_token"]
    response = api.delete("/api/v1/users/me/sessions", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["data"] == {"revoked": 1}
    assert other.post("/api/v1/auth/refresh").status_code == 401


def test_a_user_cannot_revoke_another_users_session(api, alice, bob):
    login(api.__class__(), email=bob.email)
    bobs = UserSession.objects.get(user=bob)
    token = login(api.__class__(), path="/api/v1/auth/token").json()["access_token"]
    response = api.delete(
        f"/api/v1/users/me/sessions/{bobs.pk}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 404
    bobs.refresh_from_db()
    assert bobs.revoked_at is None


def test_login_history_is_paginated_and_own(api, alice, bob):
    for _ in range(3):
        login(api, password="wrong")
    login(api.__class__(), email=bob.email)
    token = login(api, path="/api/v1/auth/token").json()["access_token"]
    body = api.get(
        "/api/v1/users/me/login-history?limit=2", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert body["total"] == 4 and body["count"] == 2 and body["total_pages"] == 2
    assert {h["user_id"] for h in body["history"]} == {alice.pk}
    assert body["history"][0]["success"] is True


def test_a_rest_client_can_use_the_api_with_bearer_only(api, alice):
    tokens = login(api, path="/api/v1/auth/token").json()
    bearer = api.__class__()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert bearer.get("/api/v1/users/me/sessions").status_code == 200
    assert bearer.get("/api/v1/users/me/login-history").status_code == 200


def test_users_can_be_made_with_the_factory():
    assert UserFactory().check_password(DEFAULT_PASSWORD)


def test_user_data_matches_the_documented_user_object(alice):
    from accounts.auth.serializers import UserOutput, user_data

    assert user_data(alice) == dict(UserOutput(alice).data)
    alice.social_links = {"github": "https://github.com/alice"}
    alice.oauth_provider = "github"
    assert user_data(alice) == dict(UserOutput(alice).data)
