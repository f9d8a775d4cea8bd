"""Regression tests from the review of the auth change: open redirects, OAuth address
takeover, deleted accounts, social sign-up without an address, allauth's disconnect, deeply
nested JSON, secrets in Sentry events and in the session store."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import User, UserSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.RATE_LIMIT_ENABLED = False


def api_oauth(client, provider="github"):
    state = client.get(f"/api/v1/auth/oauth/{provider}").json()["state"]
    return client.get(f"/api/v1/auth/oauth/{provider}/callback", {"code": "c", "state": state})


# --- 1. open redirect --------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/phish"])
def test_admin_login_never_redirects_a_signed_in_admin_off_site(client, staff, target):
    client.force_login(staff)
    response = client.get("/admin/login/", {"next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


# --- 2-5. OAuth ---------------------------------------------------------------------------------


def test_oauth_does_not_create_an_account_for_an_address_the_provider_did_not_verify(
    client, github
):
    github(emails=[{"email": "victim@example.com", "primary": True, "verified": False}])
    response = api_oauth(client)
    assert not User.objects.filter(email="victim@example.com").exists()
    assert response.status_code == 302 and "error=" in response["Location"]


def test_oauth_refuses_a_soft_deleted_account(client, github):
    gone = UserFactory(email="octo@example.com", deleted_at=timezone.now())
    SocialAccount.objects.create(user=gone, provider="github", uid="4242", extra_data={})
    github()
    response = api_oauth(client)
    assert not UserSession.objects.filter(user=gone).exists()
    assert "success=true" not in response.get("Location", "")


def test_oauth_without_any_provider_address_is_refused_and_never_a_500(client, github):
    github(emails=[])
    response = api_oauth(client)
    assert response.status_code == 302 and "error=" in response["Location"]
    client.raise_request_exception = False
    response = client.post("/accounts/3rdparty/signup/", {"email": "new@example.com", "name": "N"})
    assert response.status_code < 500
    assert not User.objects.filter(email="new@example.com").exists()


def test_api_oauth_without_a_provider_email_ends_at_the_front_end(client, github):
    github(emails=[])
    response = api_oauth(client)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{settings.FRONTEND_URL}/auth/callback")


def test_disconnecting_on_the_connections_page_clears_the_oauth_provider_flag(
    client, alice, oauth_apps
):
    from allauth.account.models import EmailAddress

    from accounts.auth.oauth import _sync_oauth_provider

    EmailAddress.objects.create(user=alice, email=alice.email, verified=True, primary=True)
    account = SocialAccount.objects.create(user=alice, provider="github", uid="1", extra_data={})
    _sync_oauth_provider(alice)
    client.force_login(alice)
    client.post("/accounts/3rdparty/", {"account": account.pk})
    assert not SocialAccount.objects.filter(user=alice).exists()
    alice.refresh_from_db()
    assert alice.oauth_provider == ""


# --- 6. bad input -> 500 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/reset-password",
        "/api/v1/auth/reset-password/confirm",
        "/api/v1/auth/verify-email/resend",
        "/api/v1/auth/login",
    ],
)
def test_deeply_nested_json_is_a_400_not_a_500(api, path):
    body = b"[" * 50000 + b"]" * 50000
    response = api.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "BAD_REQUEST"


# --- 7-8. secrets at rest / in error reports --------------------------------------------------


def test_sentry_events_do_not_carry_link_tokens_from_the_query_string():
    from config.sentry import _before_send

    event = {
        "request": {
            "url": "https://keel.example/reset-password",
            "query_string": "token=PLAINTEXT-RESET-TOKEN",
        }
    }
    assert "PLAINTEXT-RESET-TOKEN" not in repr(_before_send(event, {}))


def test_new_backup_codes_are_not_kept_in_plaintext_in_the_session_store(alice):
    from django.contrib.sessions.models import Session

    from tests.accounts.helpers import enrol, totp_code

    enrol(alice)
    browser = Client()
    browser.force_login(alice)
    response = browser.post("/settings/security/2fa/backup-codes", {"code": totp_code(alice)})
    assert response.status_code == 200 and b'data-testid="backup-codes"' in response.content
    assert response["Cache-Control"] == "no-store"
    stored = " ".join(str(s.get_decoded()) for s in Session.objects.all())
    codes = [c for c in stored.split("'") if len(c) == 9 and c[4] == "-"]
    assert codes == []
