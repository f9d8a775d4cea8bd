"""Email verification, password reset and the security emails (contract §2, §13.1, §14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from accounts.models import User, UserSession
from security.models import AuditLog
from security.services import system_settings_update
from tests.accounts.helpers import last_email_to, token_from_email
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Brand-New-Pass-7"
UA_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
UA_PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what requests enqueue (jobs run inline once their transaction commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def register(api, email="dana@example.com"):
    return api.post(
        "/api/v1/auth/register",
        {"name": "Dana", "email": email, "password": "Sup3rsecret"},
        format="json",
    )


# --- verification -------------------------------------------------------------------------------


def test_register_emails_a_verification_link_that_verifies_once(api, run_jobs):
    with run_jobs():
        assert register(api).status_code == 201
    message = last_email_to("dana@example.com")
    assert message.alternatives and message.alternatives[0][1] == "text/html"
    token = token_from_email("dana@example.com", "/verify-email")
    user = User.objects.get(email="dana@example.com")
    assert user.email_verification_token_hash and token not in user.email_verification_token_hash
    response = api.get("/api/v1/auth/verify-email", {"token": token})
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Email verified successfully"}
    user.refresh_from_db()
    assert user.email_verified and user.email_verified_at
    again = api.get("/api/v1/auth/verify-email", {"token": token})
    assert again.status_code == 400 and again.json()["error"] == "TOKEN_INVALID"
    assert AuditLog.objects.filter(action="email_verify", actor=user).exists()


def test_a_verification_link_expires_after_24_hours(api, run_jobs, time_machine):
    time_machine.move_to("2026-11-25 10:00:00", tick=False)
    with run_jobs():
        register(api)
    token = token_from_email("dana@example.com", "/verify-email")
    time_machine.shift(timedelta(hours=24, seconds=1))
    response = api.get("/api/v1/auth/verify-email", {"token": token})
    assert response.status_code == 400 and response.json()["error"] == "TOKEN_EXPIRED"


@pytest.mark.parametrize("token", ["", "forged", "x" * 500])
def test_bad_verification_tokens_are_400_token_invalid(api, token):
    response = api.get("/api/v1/auth/verify-email", {"token": token})
    assert response.status_code == 400 and response.json()["error"] == "TOKEN_INVALID"


def test_resend_is_non_enumerating_and_throttled_to_one_a_minute(api, run_jobs, time_machine):
    time_machine.move_to("2026-11-25 10:00:00", tick=False)
    unverified = UserFactory(email="late@example.com", email_verified=False)
    with run_jobs():
        for email in ("late@example.com", "nobody@example.com", "late@example.com"):
            response = api.post("/api/v1/auth/verify-email/resend", {"email": email}, format="json")
            assert response.status_code == 200 and response.json()["success"] is True
    assert [m.to for m in mail.outbox] == [[unverified.email]]
    time_machine.shift(61)
    with run_jobs():
        api.post("/api/v1/auth/verify-email/resend", {"email": "late@example.com"}, format="json")
    assert len(mail.outbox) == 2
    # only the newest link works
    token = token_from_email("late@example.com", "/verify-email")
    assert api.get("/api/v1/auth/verify-email", {"token": token}).status_code == 200


def test_signed_in_resend_uses_the_account_and_refuses_a_verified_one(api, alice, run_jobs):
    api.force_authenticate(alice)  # the factory's users are verified
    response = api.post("/api/v1/auth/verify-email/resend", {}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "BAD_REQUEST"
    alice.email_verified = False
    alice.save()
    with run_jobs():
        response = api.post(
            "/api/v1/auth/verify-email/resend", {"email": "other@example.com"}, format="json"
        )
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_anonymous_resend_needs_a_valid_email(api):
    response = api.post("/api/v1/auth/verify-email/resend", {"email": "nope"}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "VALIDATION_ERROR"


# --- password reset -------------------------------------------------------------------------------


def test_reset_answers_the_same_for_known_and_unknown_emails(api, alice, run_jobs):
    with run_jobs():
        known = api.post("/api/v1/auth/reset-password", {"email": alice.email}, format="json")
        unknown = api.post(
            "/api/v1/auth/reset-password", {"email": "ghost@example.com"}, format="json"
        )
    assert known.status_code == unknown.status_code == 200
    assert (
        known.json()
        == unknown.json()
        == {
            "success": True,
            "message": "If the email exists, a password reset link has been sent",
        }
    )
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_reset_refuses_a_malformed_email(api):
    response = api.post("/api/v1/auth/reset-password", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400 and response.json()["message"].startswith("email: ")


def test_reset_confirm_sets_the_password_revokes_sessions_clears_lockout_and_emails(
    api, alice, run_jobs
):
    api.post(
        "/api/v1/auth/login", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    alice.refresh_from_db()
    alice.failed_login_attempts = 3
    alice.save()
    with run_jobs():
        api.post("/api/v1/auth/reset-password", {"email": alice.email}, format="json")
    token = token_from_email(alice.email, "/reset-password")
    with run_jobs():
        response = api.post(
            "/api/v1/auth/reset-password/confirm",
            {"token": token, "password": NEW_PASSWORD},
            format="json",
        )
    assert response.status_code == 200 and response.json()["success"] is True
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD) and alice.failed_login_attempts == 0
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert "password" in last_email_to(alice.email).subject.lower()
    used = api.post(
        "/api/v1/auth/reset-password/confirm",
        {"token": token, "password": "Another-Pass-8"},
        format="json",
    )
    assert used.status_code == 400 and used.json()["error"] == "TOKEN_INVALID"


def test_reset_tokens_expire_after_an_hour(api, alice, run_jobs, time_machine):
    time_machine.move_to("2026-11-25 10:00:00", tick=False)
    with run_jobs():
        api.post("/api/v1/auth/reset-password", {"email": alice.email}, format="json")
    token = token_from_email(alice.email, "/reset-password")
    time_machine.shift(timedelta(hours=1, seconds=1))
    response = api.post(
        "/api/v1/auth/reset-password/confirm",
        {"token": token, "password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "TOKEN_EXPIRED"


def test_reset_confirm_applies_the_password_policy_and_keeps_the_token(api, alice, run_jobs):
    with run_jobs():
        api.post("/api/v1/auth/reset-password", {"email": alice.email}, format="json")
    token = token_from_email(alice.email, "/reset-password")
    weak = api.post(
        "/api/v1/auth/reset-password/confirm", {"token": token, "password": "short"}, format="json"
    )
    assert weak.status_code == 400 and weak.json()["error"] == "VALIDATION_ERROR"
    assert weak.json()["message"].startswith("password: ")
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)
    ok = api.post(
        "/api/v1/auth/reset-password/confirm",
        {"token": token, "password": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == 200


def test_reset_confirm_with_a_forged_token_is_400(api):
    response = api.post(
        "/api/v1/auth/reset-password/confirm",
        {"token": "forged", "password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "TOKEN_INVALID"


# --- security emails --------------------------------------------------------------------------------


def test_the_locking_attempt_emails_account_locked(api, alice, run_jobs, staff):
    system_settings_update(values={"max_login_attempts": 2}, actor=staff)
    with run_jobs():
        for _ in range(2):
            api.post(
                "/api/v1/auth/login", {"email": alice.email, "password": "wrong"}, format="json"
            )
    assert "locked" in last_email_to(alice.email).subject.lower()


def test_a_sign_in_from_a_new_device_sends_an_alert_but_not_the_first_or_a_known_one(
    api, alice, run_jobs
):
    def sign_in(ua):
        with run_jobs():
            response = api.post(
                "/api/v1/auth/login",
                {"email": alice.email, "password": DEFAULT_PASSWORD},
                format="json",
                HTTP_USER_AGENT=ua,
            )
        assert response.status_code == 200

    sign_in(UA_MAC)  # first sign-in ever: no alert
    sign_in(UA_MAC)  # known device
    assert mail.outbox == []
    sign_in(UA_PHONE)
    alert = last_email_to(alice.email)
    assert "sign-in" in alert.subject.lower() or "sign in" in alert.subject.lower()
    assert "Mobile Safari" in alert.body or "iOS" in alert.body
