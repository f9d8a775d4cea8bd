"""Sign-in with GitHub and Google (contract §2, §2.3), offline: the providers' token and profile
endpoints are answered by `responses` with provider-shaped payloads; everything of Keel's and
allauth's runs for real (state in the session, code exchange, profile parsing, linking)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import responses
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings

from accounts.models import LoginHistory, User, UserSession
from security.models import AuditLog
from tests.accounts.helpers import enrol, totp_code
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("oauth_apps")]


def start(client, provider="github", link=False):
    path = f"/api/v1/auth/oauth/{provider}" + ("?link=true" if link else "")
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def callback(client, state, provider="github", code="the-code"):
    return client.get(f"/api/v1/auth/oauth/{provider}/callback", {"code": code, "state": state})


def front(response):
    assert response.status_code == 302, response.content
    url = urlparse(response["Location"])
    assert f"{url.scheme}://{url.netloc}" == settings.FRONTEND_URL
    return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}


def test_start_returns_the_provider_url_with_a_state(client):
    body = start(client)
    url = urlparse(body["url"])
    assert (url.netloc, url.path) == ("github.com", "/login/oauth/authorize")
    query = parse_qs(url.query)
    assert query["state"] == [body["state"]] and query["client_id"] == ["gh-id"]
    assert query["redirect_uri"][0].endswith("/accounts/github/login/callback/")


def test_unknown_and_unconfigured_providers_are_404(client):
    assert client.get("/api/v1/auth/oauth/myspace").status_code == 404
    SocialApp.objects.filter(provider="google").delete()
    response = client.get("/api/v1/auth/oauth/google")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


def test_the_callback_of_an_unknown_or_unconfigured_provider_is_404_not_500(client):
    assert callback(client, "any-state", provider="myspace").status_code == 404
    SocialApp.objects.filter(provider="google").delete()  # found by schemathesis: was a 500
    response = callback(client, "any-state", provider="google")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


def test_a_new_github_user_is_created_verified_and_signed_in_with_cookies(client, github):
    github()
    state = start(client)["state"]
    response = callback(client, state)
    path, query = front(response)
    assert path == "/auth/callback" and query == {"success": "true", "new_user": "true"}
    assert response.cookies["auth_token"].value and response.cookies["refresh_token"].value
    user = User.objects.get(email="octo@example.com")
    assert user.email_verified and not user.has_usable_password() and user.name == "Octo Cat"
    assert SocialAccount.objects.get(user=user).uid == "4242"
    session = UserSession.objects.get(user=user)
    assert session.auth_method == "oauth_github"
    assert LoginHistory.objects.get(user=user).auth_method == "oauth_github"
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["data"]["email"] == "octo@example.com"
    assert me.json()["data"]["oauth_provider"] == "github"


def test_a_replayed_state_is_refused(client, github):
    github()
    state = start(client)["state"]
    front(callback(client, state))
    path, query = front(callback(client, state))
    assert path == "/auth/callback" and "error" in query and "success" not in query


def test_a_forged_state_is_refused_without_calling_the_provider(client, github):
    github()
    start(client)
    _path, query = front(callback(client, "forged-state"))
    assert "error" in query
    assert not User.objects.filter(email="octo@example.com").exists()


def test_a_cancelled_sign_in_comes_back_with_an_error(client):
    state = start(client)["state"]
    response = client.get(
        "/api/v1/auth/oauth/github/callback", {"error": "access_denied", "state": state}
    )
    assert front(response)[1]["error"] == "Sign-in was cancelled"


def test_a_known_identity_signs_in_its_user_again(client, github):
    github()
    front(callback(client, start(client)["state"]))
    github()
    _path, query = front(callback(client, start(client)["state"]))
    assert query == {"success": "true"}
    assert User.objects.filter(email="octo@example.com").count() == 1


def test_a_verified_keel_account_with_the_same_verified_email_is_linked(client, github):
    octo = UserFactory(email="octo@example.com", email_verified=True)
    github()
    _path, query = front(callback(client, start(client)["state"]))
    assert query == {"success": "true"}
    assert SocialAccount.objects.get(provider="github").user == octo
    assert AuditLog.objects.filter(action="oauth_link", actor=octo).exists()


def test_an_unverified_keel_account_is_not_taken_over(client, github):
    UserFactory(email="octo@example.com", email_verified=False)
    github()
    _path, query = front(callback(client, start(client)["state"]))
    assert "already exists" in query["error"]
    assert not SocialAccount.objects.exists()


def test_an_address_the_provider_did_not_verify_does_not_link(client, github):
    UserFactory(email="octo@example.com", email_verified=True)
    github(emails=[{"email": "octo@example.com", "primary": True, "verified": False}])
    _path, query = front(callback(client, start(client)["state"]))
    assert "error" in query and not SocialAccount.objects.exists()


def test_link_mode_connects_the_signed_in_user(client, alice, github):
    client.post(
        "/api/v1/auth/login",
        {"email": alice.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    github(emails=[{"email": "alice.work@example.com", "primary": True, "verified": True}])
    state = start(client, link=True)["state"]
    path, query = front(callback(client, state))
    assert path == "/settings/connected-accounts" and query == {"linked": "github"}
    assert SocialAccount.objects.get(provider="github").user == alice
    providers = client.get("/api/v1/auth/oauth/providers").json()["providers"]
    assert [p["provider"] for p in providers] == ["github"] and providers[0]["linked_at"]


def test_link_mode_refuses_an_identity_of_another_user(client, alice, bob, github):
    SocialAccount.objects.create(user=bob, provider="github", uid="4242", extra_data={})
    client.force_login(alice)
    github()
    path, query = front(callback(client, start(client, link=True)["state"]))
    assert path == "/settings/connected-accounts"
    assert query["error"] == "This account is already linked to another user"


def test_link_mode_needs_a_signed_in_user(client):
    assert client.get("/api/v1/auth/oauth/github?link=true").status_code == 401


def test_unlink_removes_the_provider_but_never_the_last_way_in(api, alice):
    SocialAccount.objects.create(user=alice, provider="github", uid="1", extra_data={})
    api.force_authenticate(alice)
    assert api.delete("/api/v1/auth/oauth/github").status_code == 200
    assert api.delete("/api/v1/auth/oauth/github").status_code == 404
    oauth_only = UserFactory()
    oauth_only.set_unusable_password()
    oauth_only.save()
    SocialAccount.objects.create(user=oauth_only, provider="github", uid="2", extra_data={})
    api.force_authenticate(oauth_only)
    response = api.delete("/api/v1/auth/oauth/github")
    assert response.status_code == 400 and "only way to sign in" in response.json()["message"]
    assert SocialAccount.objects.filter(user=oauth_only).exists()


def test_the_navigation_route_sends_anonymous_link_requests_to_the_front_end_login(client):
    response = client.get("/api/v1/auth/github?link=true")
    assert response.status_code == 302 and response["Location"] == f"{settings.FRONTEND_URL}/login"


def test_the_navigation_route_sends_a_signed_in_user_to_the_provider(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/auth/github?link=true")
    assert response.status_code == 302
    assert response["Location"].startswith("https://github.com/login/oauth/authorize")


def test_google_sign_in_reads_the_id_token(client):
    now = int(time.time())
    id_token = jwt.encode(
        {
            "iss": "https://accounts.google.com",
            "aud": "g-id",
            "sub": "10769150350006150715113082367",
            "email": "gina@example.com",
            "email_verified": True,
            "name": "Gina G",
            "picture": "https://lh3.googleusercontent.com/a/photo",
            "iat": now,
            "exp": now + 3600,
        },
        "google-signs-this-token-with-a-long-enough-key",
        algorithm="HS256",
    )
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            "https://oauth2.googleapis.com/token",
            json={"access_token": "ya29.x", "expires_in": 3599, "id_token": id_token},
        )
        state = start(client, provider="google")["state"]
        _path, query = front(callback(client, state, provider="google"))
    assert query == {"success": "true", "new_user": "true"}
    user = User.objects.get(email="gina@example.com")
    assert user.email_verified and user.name == "Gina G"
    assert LoginHistory.objects.get(user=user).auth_method == "oauth_google"


# --- pages --------------------------------------------------------------------------------------


def test_the_page_flow_signs_in_with_a_bound_django_session(client, github):
    github()
    response = client.post("/accounts/github/login/")
    assert response.status_code == 302
    state = parse_qs(urlparse(response["Location"]).query)["state"][0]
    response = client.get("/accounts/github/login/callback/", {"code": "c", "state": state})
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(email="octo@example.com")
    session = UserSession.objects.get(user=user)
    assert session.django_session_key == client.session.session_key
    assert client.get("/settings/security/").status_code == 200


def test_a_2fa_user_signing_in_with_github_must_enter_a_code(client, github, time_machine):
    time_machine.move_to((int(time.time()) // 30 + 1) * 30 + 10, tick=False)
    octo = UserFactory(email="octo@example.com")
    SocialAccount.objects.create(user=octo, provider="github", uid="4242", extra_data={})
    enrol(octo)
    github()
    response = client.post("/accounts/github/login/")
    state = parse_qs(urlparse(response["Location"]).query)["state"][0]
    response = client.get("/accounts/github/login/callback/", {"code": "c", "state": state})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/"
    assert not UserSession.objects.filter(user=octo).exists()
    response = client.post("/accounts/2fa/", {"code": totp_code(octo)})
    assert response.status_code == 302
    assert UserSession.objects.get(user=octo).auth_method == "oauth_github"
