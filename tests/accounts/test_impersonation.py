"""Impersonation (contract §11, §13.8): a super admin acts as another user with a 1-hour token
carrying `original_user_id`; refresh keeps the impersonation; stop returns to the admin; both
are audited and everything done meanwhile names the impersonator; pages show a banner."""

from __future__ import annotations

import copy
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.urls import include, path
from django.utils import timezone

from accounts.auth import sessions
from accounts.core.tokens import issue_access_token
from accounts.models import Role, UserSession
from accounts.staff import api as staff_api
from config.context import impersonator_id_var
from security.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="198.51.100.30", user_agent="pytest")

# A URLconf with the banner's Stop page (for the tests marked `urls`): the route the lead adds
# to accounts/page_urls.py.
urlpatterns = [
    path("impersonation/stop", staff_api.impersonation_stop_page, name="impersonation_stop"),
    path("", include("config.urls")),
]
WITH_STOP_PAGE = pytest.mark.urls("tests.accounts.test_impersonation")


@pytest.fixture(autouse=True)
def _no_impersonator_leak():
    """JWT authentication sets this context variable and nothing resets it between requests
    of one thread (reported); reset it around each test and each request made here."""
    token = impersonator_id_var.set(None)
    yield
    impersonator_id_var.reset(token)


def fresh_context():
    impersonator_id_var.set(None)


def token_for(user):
    return sessions.session_create(user=user, meta=META, method="password").access.token


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def impersonate(api, admin, target, reason="support ticket 42", **extra):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin)}")
    response = api.post(
        "/api/v1/admin/impersonate",
        {"user_id": target.pk, "reason": reason},
        format="json",
        **extra,
    )
    api.credentials()
    fresh_context()
    return response


def as_bearer(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


# --- starting ---------------------------------------------------------------------------------------


def test_a_super_admin_gets_a_one_hour_token_for_the_user(api, superadmin, alice):
    response = impersonate(api, superadmin, alice)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user", "token", "original_user_id", "expires_in"}
    assert body["user"]["id"] == alice.pk and body["original_user_id"] == superadmin.pk
    assert body["expires_in"] == 3600
    claims = claims_of(body["token"])
    assert claims["user_id"] == alice.pk and claims["original_user_id"] == superadmin.pk
    assert claims["exp"] - claims["iat"] == 3600
    session = UserSession.objects.get(pk=claims["sid"])
    assert session.user == alice and session.original_user == superadmin
    assert session.expires_at <= session.created_at + timedelta(hours=1)
    assert "auth_token" not in response.cookies  # a token client: no cookies


def test_the_token_acts_as_the_user(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    me = as_bearer(api, token).get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["data"]["email"] == alice.email
    assert as_bearer(api, token).get("/api/v1/users").status_code == 403  # alice is no staff


def test_starting_is_audited_with_the_reason(api, superadmin, alice):
    impersonate(api, superadmin, alice, reason="checking billing page")
    entry = AuditLog.objects.get(action="impersonate")
    assert entry.actor == superadmin and entry.target_id == str(alice.pk)
    assert entry.metadata["reason"] == "checking billing page"
    assert "impersonated_by" not in entry.metadata


def test_the_reason_is_optional(api, superadmin, alice):
    api.force_authenticate(superadmin)
    response = api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json")
    assert response.status_code == 200
    assert AuditLog.objects.get(action="impersonate").metadata["reason"] == ""


def test_what_is_done_meanwhile_names_the_impersonator(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    response = as_bearer(api, token).put(f"/api/v1/users/{alice.pk}", {"bio": "hi"}, format="json")
    assert response.status_code == 200
    entry = AuditLog.objects.get(action="profile_update")
    assert entry.actor == alice
    assert entry.metadata["impersonated_by"] == superadmin.pk
    assert entry.impersonator == superadmin


def test_cookie_callers_get_the_token_as_their_auth_cookie(api, superadmin, alice):
    api.cookies["auth_token"] = token_for(superadmin)
    response = api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json")
    assert response.status_code == 200
    cookie = response.cookies["auth_token"]
    assert cookie.value == response.json()["token"]
    assert int(cookie["max-age"]) == 3600 and cookie["httponly"]
    assert response.cookies["refresh_token"]["path"] == "/api/v1/auth"


def test_refresh_keeps_issuing_the_user_until_the_hour_is_over(api, superadmin, alice):
    api.cookies["auth_token"] = token_for(superadmin)
    started = api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json")
    sid = claims_of(started.json()["token"])["sid"]
    fresh_context()
    refreshed = api.post("/api/v1/auth/refresh")
    assert refreshed.status_code == 200
    claims = claims_of(refreshed.json()["token"])
    assert claims["user_id"] == alice.pk and claims["original_user_id"] == superadmin.pk
    UserSession.objects.filter(pk=sid).update(created_at=timezone.now() - timedelta(minutes=61))
    fresh_context()
    late = api.post("/api/v1/auth/refresh")
    assert late.status_code == 401 and late.json()["error"] == "TOKEN_EXPIRED"
    assert UserSession.objects.get(pk=sid).revoked_at is not None


# --- who and whom -----------------------------------------------------------------------------------


def test_admins_and_users_may_not_impersonate(api, staff, alice, bob):
    assert impersonate(api, staff, alice).status_code == 403
    assert impersonate(api, bob, alice).status_code == 403
    assert not UserSession.objects.filter(original_user__isnull=False).exists()


def test_anonymous_callers_are_401(api, alice):
    response = api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json")
    assert response.status_code == 401


def test_nobody_impersonates_themselves(api, superadmin):
    response = impersonate(api, superadmin, superadmin)
    assert response.status_code == 400 and response.json()["error"] == "BAD_REQUEST"


def test_super_admins_are_never_impersonated(api, superadmin):
    other = UserFactory(email="root2@example.com", role=Role.SUPER_ADMIN)
    response = impersonate(api, superadmin, other)
    assert response.status_code == 400
    assert "super admin" in response.json()["message"]


def test_admins_may_be_impersonated(api, superadmin, staff):
    assert impersonate(api, superadmin, staff).status_code == 200


def test_impersonation_never_nests(api, superadmin, alice, bob):
    token = impersonate(api, superadmin, alice).json()["token"]
    response = as_bearer(api, token).post(
        "/api/v1/admin/impersonate", {"user_id": bob.pk}, format="json"
    )
    assert response.status_code == 400
    assert "stop first" in response.json()["message"]
    assert AuditLog.objects.filter(action="impersonate").count() == 1


def test_unknown_deleted_and_inactive_targets_are_refused(api, superadmin, alice, bob):
    api.force_authenticate(superadmin)
    missing = api.post("/api/v1/admin/impersonate", {"user_id": 999999}, format="json")
    assert missing.status_code == 404
    alice.deleted_at = timezone.now()
    alice.save()
    assert (
        api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json").status_code
        == 404
    )
    bob.is_active = False
    bob.save()
    inactive = api.post("/api/v1/admin/impersonate", {"user_id": bob.pk}, format="json")
    assert inactive.status_code == 400


@pytest.mark.parametrize("payload", [{}, {"user_id": "abc"}, {"user_id": 0}, {"user_id": None}])
def test_bad_user_ids_are_validation_errors(api, superadmin, payload):
    api.force_authenticate(superadmin)
    response = api.post("/api/v1/admin/impersonate", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR" and body["message"].startswith("user_id: ")


def test_a_super_admin_without_2fa_is_refused_when_admins_need_it(api, superadmin, alice):
    from security.services import system_settings_update

    system_settings_update(values={"require_2fa_for_admins": True}, actor=superadmin)
    assert impersonate(api, superadmin, alice).status_code == 403


# --- stopping ---------------------------------------------------------------------------------------


def test_stop_returns_to_the_admin_with_a_fresh_session(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    sid = claims_of(token)["sid"]
    response = as_bearer(api, token).post("/api/v1/admin/stop-impersonate")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"user", "token", "expires_in"}
    assert body["user"]["id"] == superadmin.pk and body["expires_in"] == 900
    claims = claims_of(body["token"])
    assert claims["user_id"] == superadmin.pk and "original_user_id" not in claims
    assert claims["sid"] != sid and UserSession.objects.get(pk=claims["sid"]).original_user is None
    assert UserSession.objects.get(pk=sid).revoked_at is not None


def test_the_impersonation_token_is_dead_after_stop(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    as_bearer(api, token).post("/api/v1/admin/stop-impersonate")
    fresh_context()
    response = as_bearer(api, token).get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["error"] == "TOKEN_INVALID"


def test_stop_is_audited(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    as_bearer(api, token).post("/api/v1/admin/stop-impersonate")
    entry = AuditLog.objects.get(action="stop_impersonate")
    assert entry.actor == superadmin and entry.target_id == str(alice.pk)


def test_stop_gives_cookie_callers_the_admins_cookies(api, superadmin, alice):
    api.cookies["auth_token"] = token_for(superadmin)
    api.post("/api/v1/admin/impersonate", {"user_id": alice.pk}, format="json")
    fresh_context()
    response = api.post("/api/v1/admin/stop-impersonate")
    assert response.status_code == 200
    assert claims_of(response.cookies["auth_token"].value)["user_id"] == superadmin.pk
    assert response.cookies["refresh_token"].value


def test_stop_without_an_impersonation_token_is_a_bad_request(api, superadmin, alice):
    response = as_bearer(api, token_for(superadmin)).post("/api/v1/admin/stop-impersonate")
    assert response.status_code == 400 and response.json()["message"] == "Not impersonating"
    api.credentials()
    api.force_authenticate(alice)  # a Django session, say: no token at all
    assert api.post("/api/v1/admin/stop-impersonate").status_code == 400


def test_stop_needs_authentication(api):
    assert api.post("/api/v1/admin/stop-impersonate").status_code == 401


def test_stop_when_the_admin_is_gone_ends_it_anyway(api, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    superadmin.is_active = False
    superadmin.save()
    response = as_bearer(api, token).post("/api/v1/admin/stop-impersonate")
    assert response.status_code == 401
    sid = claims_of(token)["sid"]
    assert UserSession.objects.get(pk=sid).revoked_at is not None


def test_issue_access_token_takes_a_lifetime_capped_at_an_hour_when_impersonating(alice):
    plain = issue_access_token(user=alice, session_id=1, lifetime=timedelta(minutes=5))
    assert plain.expires_in == 300
    capped = issue_access_token(
        user=alice, session_id=1, original_user_id=2, lifetime=timedelta(hours=5)
    )
    assert capped.expires_in == 3600
    assert issue_access_token(user=alice, session_id=1).expires_in == 900


# --- the page banner ------------------------------------------------------------------------------


@pytest.fixture
def banner_enabled(settings):
    """The context processor as the lead will add it to settings.TEMPLATES."""
    templates = copy.deepcopy(django_settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    if "accounts.auth.context_processors.impersonation" not in processors:
        processors.append("accounts.auth.context_processors.impersonation")
    settings.TEMPLATES = templates


def test_pages_show_the_banner_while_impersonating(client, api, banner_enabled, superadmin, alice):
    token = impersonate(api, superadmin, alice).json()["token"]
    client.cookies["auth_token"] = token
    html = client.get("/").content.decode()
    assert 'data-testid="impersonation-banner"' in html
    assert f"You are signed in as <strong>{alice.name}</strong> (impersonating)" in html
    assert 'href="/api/docs' in html  # no Stop page routed: the API docs


def test_pages_show_no_banner_otherwise(client, banner_enabled, superadmin, alice):
    assert "impersonation-banner" not in client.get("/").content.decode()
    client.cookies["auth_token"] = token_for(superadmin)
    assert "impersonation-banner" not in client.get("/").content.decode()
    client.cookies["auth_token"] = "not-a-token"
    assert "impersonation-banner" not in client.get("/").content.decode()


def test_an_expired_impersonation_shows_no_banner(client, banner_enabled, superadmin, alice):
    expired = jwt.encode(
        {
            "user_id": alice.pk,
            "sid": 1,
            "original_user_id": superadmin.pk,
            "iat": 1,
            "exp": 2,
        },
        django_settings.JWT_SECRET,
        algorithm="HS256",
    )
    client.cookies["auth_token"] = expired
    assert "impersonation-banner" not in client.get("/").content.decode()


@WITH_STOP_PAGE
def test_the_banners_stop_button_ends_the_impersonation(
    client, api, banner_enabled, superadmin, alice
):
    token = impersonate(api, superadmin, alice).json()["token"]
    client.cookies["auth_token"] = token
    html = client.get("/").content.decode()
    assert 'action="/impersonation/stop"' in html and "csrfmiddlewaretoken" in html
    response = client.post("/impersonation/stop")
    assert response.status_code == 302 and response["Location"] == "/"
    assert claims_of(response.cookies["auth_token"].value)["user_id"] == superadmin.pk
    assert UserSession.objects.get(pk=claims_of(token)["sid"]).revoked_at is not None
    assert AuditLog.objects.filter(action="stop_impersonate", actor=superadmin).exists()
    assert "impersonation-banner" not in client.get("/").content.decode()


@WITH_STOP_PAGE
def test_the_stop_page_without_an_impersonation_just_goes_home(client, superadmin):
    client.cookies["auth_token"] = token_for(superadmin)
    response = client.post("/impersonation/stop")
    assert response.status_code == 302
    assert "auth_token" not in response.cookies
    assert client.get("/impersonation/stop").status_code == 405
