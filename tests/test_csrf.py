"""Double-submit CSRF (contract §0.5)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


def get_csrf(client) -> str:
    response = client.get("/api/v1/csrf-token")
    assert response.status_code == 200
    cookie = response.cookies["csrf_token"]
    assert response.json() == {"csrf_token": cookie.value, "expires_in": "86400"}
    return cookie.value


def test_it_issues_the_csrf_cookie_readable_by_scripts(csrf_api):
    response = csrf_api.get("/api/v1/csrf-token")
    cookie = response.cookies["csrf_token"]
    assert cookie["httponly"] == ""
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert int(cookie["max-age"]) == 86400


def test_it_gives_safe_requests_without_the_cookie_a_cookie(csrf_api):
    response = csrf_api.get("/api/v1/_echo")
    assert "csrf_token" in response.cookies


def test_it_does_not_set_cookies_on_health_checks(csrf_api):
    assert "csrf_token" not in csrf_api.get("/health/ready").cookies


def test_it_refuses_a_cookie_authenticated_post_without_the_header(csrf_api, alice):
    csrf_api.force_login(alice)
    get_csrf(csrf_api)
    response = csrf_api.post("/api/v1/_echo", {"a": 1}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "CSRF_ERROR"
    assert body["message"] == "CSRF token missing"
    assert body["code"] == 403


def test_it_refuses_a_mismatched_header(csrf_api, alice):
    csrf_api.force_login(alice)
    get_csrf(csrf_api)
    response = csrf_api.post("/api/v1/_echo", {}, format="json", HTTP_X_CSRF_TOKEN="x" * 32)
    assert response.status_code == 403
    assert response.json()["message"] == "CSRF token mismatch"


def test_it_accepts_the_header_matching_the_cookie(csrf_api, alice):
    csrf_api.force_login(alice)
    token = get_csrf(csrf_api)
    response = csrf_api.post("/api/v1/_echo", {"a": 1}, format="json", HTTP_X_CSRF_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["user"] == alice.pk


def test_it_refuses_a_foreign_origin_even_with_a_valid_token(csrf_api, alice):
    csrf_api.force_login(alice)
    token = get_csrf(csrf_api)
    response = csrf_api.post(
        "/api/v1/_echo",
        {},
        format="json",
        HTTP_X_CSRF_TOKEN=token,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert response.json()["message"] == "Origin not allowed"


def test_it_accepts_an_origin_from_cors_allowed_origins(csrf_api, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = [*settings.CSRF_TRUSTED_ORIGINS, "https://app.example"]
    csrf_api.force_login(alice)
    token = get_csrf(csrf_api)
    response = csrf_api.post(
        "/api/v1/_echo",
        {},
        format="json",
        HTTP_X_CSRF_TOKEN=token,
        HTTP_ORIGIN="https://app.example",
    )
    assert response.status_code == 200


def test_it_checks_requests_with_any_cookie_and_no_token_credential(csrf_api):
    csrf_api.cookies["theme"] = "dark"
    response = csrf_api.post("/api/v1/_echo", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "CSRF_ERROR"


def test_it_exempts_requests_without_cookies(csrf_api):
    assert csrf_api.post("/api/v1/_echo", {"a": 1}, format="json").status_code == 200


def test_it_exempts_bearer_clients_without_auth_cookies(csrf_api):
    csrf_api.cookies["theme"] = "dark"
    response = csrf_api.post("/api/v1/_echo", {}, format="json", HTTP_AUTHORIZATION="Bearer abc")
    assert response.json()["error"] == "TOKEN_INVALID"  # judged by authentication, not CSRF


def test_it_checks_bearer_clients_that_also_send_an_auth_cookie(csrf_api, alice):
    csrf_api.force_login(alice)
    response = csrf_api.post("/api/v1/_echo", {}, format="json", HTTP_AUTHORIZATION="Bearer abc")
    assert response.status_code == 403


def test_it_exempts_api_key_clients(csrf_api, acme):
    from tests.organizations.conftest import make_key

    _, raw = make_key(acme, "admin")
    csrf_api.cookies["theme"] = "dark"  # a cookie, but no CSRF token: the key is the credential
    response = csrf_api.put(
        "/api/v1/organizations/acme", {"name": "Acme Ltd"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 200


def test_it_exempts_the_stripe_webhook(csrf_api, alice):
    csrf_api.force_login(alice)
    assert csrf_api.post("/api/v1/webhooks/stripe", {}, format="json").status_code == 200


def test_it_protects_page_forms_with_the_form_field(client, alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    token = page.cookies["csrf_token"].value
    refused = browser.post("/accounts/login/", {"login": alice.email, "password": "x"})
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("text/html")
    accepted = browser.post(
        "/accounts/login/", {"login": alice.email, "password": "x", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 200  # the form again, with "incorrect password"
