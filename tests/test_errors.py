"""Every error under /api is the contract's envelope (§0.7): right status, machine code,
request id, never HTML, never a traceback."""

from __future__ import annotations

import logging

import pytest

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert body["code"] == status
    assert body["request_id"] == response["X-Request-ID"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_it_answers_unknown_api_paths_with_a_json_404(api):
    response = api.get("/api/v1/does-not-exist", HTTP_X_REQUEST_ID="req-42")
    body = assert_envelope(response, 404, "NOT_FOUND")
    assert body["request_id"] == "req-42"


@pytest.mark.parametrize("path", ["/api/does-not-exist", "/api", "/api/", "/api/v1", "/api/v1/"])
def test_it_answers_404_under_the_alias_and_bare_prefixes(api, path):
    assert_envelope(api.get(path), 404, "NOT_FOUND")


def test_it_never_redirects_trailing_slashes_on_api_routes(api):
    response = api.get("/api/v1/health/live/")
    assert_envelope(response, 404, "NOT_FOUND")
    assert "Location" not in response


def test_it_serves_the_same_route_under_v1_and_the_alias(api):
    assert api.get("/api/v1/health/live").status_code == 200
    assert api.get("/api/health/live").status_code == 200


def test_it_answers_wrong_methods_with_405_and_allow(api):
    response = api.delete("/api/v1/health/live")
    assert_envelope(response, 405, "BAD_REQUEST")
    assert "GET" in response["Allow"]


def test_it_rejects_malformed_json_with_400(api):
    response = api.generic("POST", "/api/v1/_echo", "{not json", content_type="application/json")
    body = assert_envelope(response, 400, "BAD_REQUEST")
    assert "details" not in body


def test_it_treats_an_empty_post_body_as_an_empty_object(api):
    response = api.generic("POST", "/api/v1/_echo", "", content_type="application/json")
    assert response.status_code == 200
    assert response.json()["received"] == {}


def test_it_rejects_an_unsupported_content_type_in_the_envelope(api):
    response = api.generic("POST", "/api/v1/_echo", "a,b", content_type="text/csv")
    assert_envelope(response, 415, "BAD_REQUEST")


def test_it_reports_field_errors_with_details_and_a_field_prefixed_message(api):
    response = api.post("/api/v1/_validate", {"email": "nope"}, format="json")
    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert body["message"] == "email: Enter a valid email address."
    assert body["details"] == [
        {"field": "email", "message": "Enter a valid email address.", "code": "invalid"}
    ]


def test_it_names_nested_fields_with_indexes(api):
    payload = {
        "email": "a@example.com",
        "events": [{"name": "ok", "quantity": 1}] * 3 + [{"name": "x", "quantity": 0}],
    }
    body = assert_envelope(
        api.post("/api/v1/_validate", payload, format="json"), 400, "VALIDATION_ERROR"
    )
    assert body["details"][0]["field"] == "events[3].quantity"
    assert body["details"][0]["code"] == "min_value"
    assert body["message"].startswith("events[3].quantity: ")


def test_it_ignores_unknown_request_fields(api):
    response = api.post(
        "/api/v1/_validate", {"email": "a@example.com", "id": 7, "extra": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"email": "a@example.com"}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("conflict", 409, "CONFLICT"),
        ("not-found", 404, "NOT_FOUND"),
        ("forbidden", 403, "FORBIDDEN"),
        ("rate", 429, "RATE_LIMITED"),
        ("field", 400, "VALIDATION_ERROR"),
        ("unauthorized", 401, "TOKEN_EXPIRED"),
    ],
)
def test_it_maps_domain_errors_to_their_codes(api, kind, status, code):
    assert_envelope(api.get(f"/api/v1/_error/{kind}"), status, code)


def test_it_keeps_the_field_prefix_of_domain_messages(api):
    body = api.get("/api/v1/_error/conflict").json()
    assert body["message"] == "email: An account with this email already exists"


def test_it_sends_retry_after_with_rate_limit_errors(api):
    response = api.get("/api/v1/_error/rate")
    assert response["Retry-After"] == "42"
    assert response.json()["retry_after"] == 42


def test_it_gives_field_details_for_domain_validation_errors(api):
    body = api.get("/api/v1/_error/field").json()
    assert body["message"] == "slug: Slug is reserved"
    assert body["details"] == [{"field": "slug", "message": "Slug is reserved", "code": "reserved"}]


def test_it_answers_401_with_www_authenticate_when_not_signed_in(api):
    response = api.get("/api/v1/_private")
    assert_envelope(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_authenticates_api_calls_with_the_browser_session(api, alice):
    api.force_login(alice)
    assert api.get("/api/v1/_private").json() == {"user": alice.pk}


def test_it_turns_unexpected_api_exceptions_into_a_500_without_internals(api, caplog):
    with caplog.at_level(logging.ERROR, logger="keel.errors"):
        response = api.get("/api/v1/_boom")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert body["message"] == "An unexpected error occurred"
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)


def test_it_turns_exceptions_in_plain_api_views_into_the_envelope(client):
    client.raise_request_exception = False
    response = client.get("/api/v1/_plain-boom")
    assert_envelope(response, 500, "INTERNAL_ERROR")


def test_it_renders_the_friendly_500_page_for_pages(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/_page-boom", HTTP_X_REQUEST_ID="page-req-1")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"page-req-1" in response.content
    assert b"page failure" not in response.content


def test_it_renders_the_friendly_404_page_for_pages(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_it_replaces_debug_html_errors_under_api_with_the_envelope(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/does-not-exist")
    assert_envelope(response, 404, "NOT_FOUND")


def test_a_domain_error_keeps_its_bare_text_for_pages():
    from django import forms

    from config.errors import BadRequest, ValidationFailed
    from config.pages import form_error

    exc = ValidationFailed.for_field("slug", "'admin' is reserved")
    assert (exc.message, exc.text) == ("slug: 'admin' is reserved", "'admin' is reserved")
    assert BadRequest("slug: taken", field="slug").text == "taken"  # prefixed by the caller
    assert BadRequest("Transfer ownership first").text == "Transfer ownership first"

    class SlugForm(forms.Form):
        slug = forms.CharField()

    form = SlugForm({"slug": "admin"})
    form.is_valid()
    form_error(form, exc)
    form_error(form, ValidationFailed.for_field("name", "Too short"))  # not on this form
    assert form.errors == {
        "slug": ["'admin' is reserved"],
        "__all__": ["name: Too short"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?flag=true", True), ("?flag=YES", True), ("?flag=1", True), ("?flag=on", True),
     ("?flag=false", False), ("?flag=", False), ("", False), ("?flag=2", False)],
)  # fmt: skip
def test_bool_param_reads_the_usual_spellings(query, expected):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from config.pagination import bool_param

    assert bool_param(Request(APIRequestFactory().get("/x" + query)), "flag") is expected
