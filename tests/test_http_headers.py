"""Security headers, CORS and cache headers (contract §13.6)."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; font-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


@pytest.mark.parametrize("path", ["/", "/api/v1/csrf-token", "/api/v1/nope", "/health"])
def test_it_sends_the_security_headers_everywhere(client, path):
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-XSS-Protection"] == "1; mode=block"
    assert response["Content-Security-Policy"] == CSP
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=()"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"


def test_it_relaxes_csp_and_drops_coep_for_the_api_docs(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "Cross-Origin-Embedder-Policy" not in response
    assert "worker-src" in response["Content-Security-Policy"]


def test_it_sends_no_hsts_over_plain_http(client):
    assert "Strict-Transport-Security" not in client.get("/")


@override_settings(SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_it_sends_hsts_over_https_when_enabled(client):
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@override_settings(SECURITY_HEADERS_ENABLED=False)
def test_security_headers_can_be_turned_off(client):
    assert "Content-Security-Policy" not in client.get("/api/v1/csrf-token")


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example"])
def test_it_answers_cors_preflights_for_allowed_origins(client):
    response = client.options(
        "/api/v1/_echo",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-csrf-token,idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["Access-Control-Max-Age"] == "300"
    allowed = response["Access-Control-Allow-Headers"].lower()
    for header in ("x-csrf-token", "idempotency-key", "x-api-key", "x-request-id", "authorization"):
        assert header in allowed
    assert "PATCH" in response["Access-Control-Allow-Methods"]


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example"])
def test_it_exposes_the_contract_headers_to_allowed_origins(client):
    response = client.get("/api/v1/csrf-token", HTTP_ORIGIN="https://app.example")
    exposed = response["Access-Control-Expose-Headers"]
    for header in ("X-Request-ID", "Retry-After", "X-RateLimit-Remaining", "Idempotent-Replayed"):
        assert header in exposed


def test_it_gives_no_cors_grant_to_other_origins(client):
    response = client.get("/api/v1/csrf-token", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/health/live", "public, max-age=5"),
        ("/api/v1/health/live", "public, max-age=5"),
        ("/api/changelog", "public, max-age=60"),
        ("/api/v1/auth/_probe", "no-cache, no-store, must-revalidate"),
        ("/api/v1/files/3/download", "private, max-age=300"),
        ("/api/v1/csrf-token", "private, no-cache"),
    ],
)
def test_it_sets_cache_control_by_prefix(client, path, expected):
    assert client.get(path)["Cache-Control"] == expected


def test_no_store_routes_also_send_pragma_and_expires(client):
    response = client.get("/api/v1/auth/_probe")
    assert response["Pragma"] == "no-cache"
    assert response["Expires"] == "0"


def test_it_leaves_post_responses_alone(client):
    assert "ETag" not in client.post("/api/v1/_echo", {}, content_type="application/json")


def test_json_gets_carry_an_etag_and_honour_if_none_match(client):
    first = client.get("/api/changelog")
    etag = first["ETag"]
    second = client.get("/api/changelog", HTTP_IF_NONE_MATCH=etag)
    assert second.status_code == 304
    assert second.content == b""
    assert client.get("/api/changelog", HTTP_IF_NONE_MATCH='"other"').status_code == 200


@override_settings(CACHE_HEADERS_ENABLED=False)
def test_cache_headers_can_be_turned_off(client):
    assert "ETag" not in client.get("/api/changelog")
