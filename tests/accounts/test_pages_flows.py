"""Page sign-in through allauth with Keel's rules (contract §2.1, §13.2): lockout and history,
the 2FA step, session rows bound to the Django session, the email-link pages, the admin."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from accounts.models import LoginHistory, UserSession
from security.services import system_settings_update
from tests.accounts.helpers import enrol, token_from_email, totp_code
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, email, password=DEFAULT_PASSWORD, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password, **extra})


def test_a_page_sign_in_opens_a_session_bound_to_the_django_session(client, alice):
    response = sign_in(client, alice.email)
    assert response.status_code == 302
    session = UserSession.objects.get(user=alice)
    assert session.django_session_key == client.session.session_key
    assert LoginHistory.objects.get(user=alice).success


def test_revoking_the_row_ends_the_browser_session(
    client, alice, django_capture_on_commit_callbacks
):
    from accounts.auth.sessions import session_revoke

    sign_in(client, alice.email)
    assert client.get("/settings/security/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        session_revoke(user=alice, session_id=UserSession.objects.get(user=alice).pk)
    assert client.get("/settings/security/").status_code == 302


def test_signing_out_of_the_pages_revokes_the_row(client, alice):
    sign_in(client, alice.email)
    client.post("/accounts/logout/")
    assert UserSession.objects.get(user=alice).revoked_at is not None


def test_wrong_passwords_on_the_page_count_toward_the_lockout(client, alice, staff):
    system_settings_update(values={"max_login_attempts": 2}, actor=staff)
    for _ in range(2):
        assert sign_in(client, alice.email, "wrong").status_code == 200
    locked = sign_in(client, alice.email)
    assert locked.status_code == 200 and b"temporarily locked" in locked.content
    assert not UserSession.objects.filter(user=alice).exists()
    reasons = list(LoginHistory.objects.filter(user=alice).values_list("failure_reason", flat=True))
    assert sorted(reasons) == ["account_locked", "invalid_password", "invalid_password"]


def test_an_inactive_account_is_told_so(client, alice):
    alice.is_active = False
    alice.save()
    response = sign_in(client, alice.email)
    assert b"inactive" in response.content.lower()


def test_a_2fa_user_is_asked_for_a_code_after_the_password(client, alice, time_machine):
    time_machine.move_to((int(time.time()) // 30 + 1) * 30 + 10, tick=False)
    enrol(alice)
    response = sign_in(client, alice.email)
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert not UserSession.objects.filter(user=alice).exists()
    wrong = client.post(
        "/accounts/2fa/", {"code": "000000" if totp_code(alice) != "000000" else "1"}
    )
    assert wrong.status_code == 200 and b"Invalid two-factor" in wrong.content
    done = client.post("/accounts/2fa/", {"code": totp_code(alice)})
    assert done.status_code == 302
    assert UserSession.objects.get(user=alice).auth_method == "2fa"


def test_the_2fa_page_without_a_pending_sign_in_goes_back_to_login(client):
    response = client.get("/accounts/2fa/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def test_page_sign_up_creates_the_account_through_keel_and_emails_a_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {"name": "Pat", "email": "Pat@Example.com", "password1": "Sup3r-secret"},
        )
    assert response.status_code == 302
    session = UserSession.objects.get(user__email="pat@example.com")
    assert session.user.name == "Pat" and not session.user.email_verified
    token = token_from_email("pat@example.com", "/verify-email")
    page = client.get("/verify-email", {"token": token})
    assert page.status_code == 200 and b"verified" in page.content.lower()
    again = client.get("/verify-email", {"token": token})
    assert again.status_code == 400


def test_page_sign_up_applies_the_password_policy(client):
    response = client.post(
        "/accounts/signup/", {"name": "Pat", "email": "pat@example.com", "password1": "short"}
    )
    assert response.status_code == 200 and b"at least 8 characters" in response.content


def test_page_sign_up_is_closed_when_registration_is_off(client, staff):
    system_settings_update(values={"allow_registration": False}, actor=staff)
    response = client.get("/accounts/signup/")
    assert b"closed" in response.content.lower()


def test_the_reset_page_sets_a_new_password(client, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password/reset/", {"email": alice.email})
    token = token_from_email(alice.email, "/reset-password")
    assert client.get("/reset-password", {"token": token}).status_code == 200
    mismatch = client.post(
        "/reset-password", {"token": token, "password1": "New-Pass-123", "password2": "Other-1"}
    )
    assert mismatch.status_code == 200 and b"do not match" in mismatch.content
    done = client.post(
        "/reset-password",
        {"token": token, "password1": "New-Pass-123", "password2": "New-Pass-123"},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("New-Pass-123")
    assert client.get("/reset-password", {"token": token}).status_code == 400


def test_the_reset_request_page_does_not_reveal_unknown_addresses(client):
    response = client.post("/accounts/password/reset/", {"email": "ghost@example.com"})
    assert response.status_code == 302


def test_the_admin_login_is_keels_sign_in_page(client, staff, alice):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/admin/"
    client.force_login(alice)
    assert client.get("/admin/login/").status_code == 403
    client.force_login(staff)
    assert client.get("/admin/login/")["Location"] == "/admin/"


def test_revoke_others_keeps_the_current_page_session(client, alice, api):
    sign_in(client, alice.email)
    api.post(
        "/api/v1/auth/login", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    session = client.session
    del session["keel_session_id"]  # e.g. a session from before Keel remembered it
    session.save()
    client.post("/settings/security/sessions/revoke-others")
    live = UserSession.objects.filter(user=alice, revoked_at__isnull=True)
    assert [s.django_session_key for s in live] == [client.session.session_key]


def test_the_password_change_page_signs_out_other_sessions_and_emails(
    client, alice, api, django_capture_on_commit_callbacks
):
    sign_in(client, alice.email)
    api.post(
        "/api/v1/auth/login", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/password/change/",
            {
                "oldpassword": DEFAULT_PASSWORD,
                "password1": "Fresh-Pass-99",
                "password2": "Fresh-Pass-99",
            },
        )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Fresh-Pass-99")
    live = UserSession.objects.filter(user=alice, revoked_at__isnull=True)
    assert [s.django_session_key for s in live] == [client.session.session_key]
    assert client.get("/settings/security/").status_code == 200  # this browser stays in
    assert "password" in mail.outbox[-1].subject.lower()
