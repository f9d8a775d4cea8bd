"""Bad input never turns into a 500, and refusals are exact (found in review)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from config.mail import from_address
from security import blocklist
from security.services import ip_block_create, system_settings_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api, staff):
    api.force_login(staff)
    return api


@pytest.mark.parametrize("body", ["[1, 2]", '"abc"', "123", "null"])
@pytest.mark.parametrize("view", ["security", "email", "site"])
def test_typed_settings_views_refuse_bodies_that_are_not_objects(admin_api, view, body):
    response = admin_api.generic(
        "PUT", f"/api/v1/admin/settings/{view}", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Expected a JSON object"


def test_form_encoded_typed_settings_are_understood(admin_api):
    response = admin_api.put(
        "/api/v1/admin/settings/site",
        "site_name=Hello",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert admin_api.get("/api/v1/admin/settings/site").json()["site_name"] == "Hello"


@pytest.mark.parametrize(
    ("key", "value"), [("site_name", "a\x00b"), ("max_login_attempts", "9" * 5000)]
)
def test_unstorable_setting_values_are_400(admin_api, key, value):
    response = admin_api.put(f"/api/v1/admin/settings/{key}", {"value": value}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "end", ["2024-02-30T10:00:00", "2024-13-01T00:00:00", "2024-01-01T25:00:00"]
)
def test_impossible_audit_dates_are_400(admin_api, end):
    assert admin_api.get(f"/api/v1/admin/audit-logs?end_date={end}").status_code == 400


def test_an_audit_end_time_reaches_the_database_in_utc(admin_api):
    """PostgreSQL refuses offsets beyond ±15:59 that Python parses: a 500 there (schemathesis)."""
    from datetime import UTC, datetime

    from security.serializers import AuditLogFilters

    response = admin_api.get("/api/v1/admin/audit-logs?end_date=2024-01-01T02:39:11-16:26")
    assert response.status_code == 200

    filters = AuditLogFilters(data={"end_date": "2024-01-01T02:39:11-16:26"})
    assert filters.is_valid(), filters.errors
    end = filters.validated_data["end_date"]
    assert end.utcoffset().total_seconds() == 0
    assert end == datetime(2024, 1, 1, 19, 5, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    "param", ["end_date=0001-01-01T00:00:00%2B10:00", "start_date=0001-01-01T00:00:00%2B10:00"]
)
def test_audit_times_before_year_one_in_utc_are_400(admin_api, param):
    assert admin_api.get(f"/api/v1/admin/audit-logs?{param}").status_code == 400


def test_a_get_with_an_oversized_body_is_413(client):
    response = client.generic("GET", "/health/live", "x", CONTENT_LENGTH=str(50 * 1024 * 1024))
    assert response.status_code == 413


def test_a_wrong_method_keeps_allow_and_security_headers(client):
    response = client.post("/metrics")
    assert response.status_code == 405
    assert response.json()["error"] == "BAD_REQUEST"
    assert "GET" in response["Allow"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_anonymous_requests_ignore_even_a_malformed_idempotency_key(client):
    response = client.post(
        "/api/v1/does-not-exist", {}, content_type="application/json", HTTP_IDEMPOTENCY_KEY=" bad "
    )
    assert response.status_code == 404


def test_an_ipv4_mapped_block_matches_the_ipv4_client(client):
    ip_block_create(actor=None, ip_address="::ffff:10.9.9.9")
    assert blocklist.find_block("10.9.9.9") is not None
    assert client.get("/", REMOTE_ADDR="10.9.9.9").status_code == 403


def test_ipv4_mapped_ranges_must_be_given_in_ipv4_form(admin_api):
    response = admin_api.post(
        "/api/v1/admin/ip-blocklist", {"ip_range": "::ffff:0:0/96"}, format="json"
    )
    assert response.status_code == 400


def test_a_null_ip_address_with_a_range_is_fine(admin_api):
    response = admin_api.post(
        "/api/v1/admin/ip-blocklist", {"ip_address": None, "ip_range": "10.0.0.0/8"}, format="json"
    )
    assert response.status_code == 201


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to((int(time.time()) // 60 + 1) * 60 + 5, tick=False)


def test_requests_refused_by_the_login_tier_do_not_use_up_the_other_tiers(
    client, frozen, monkeypatch
):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 15)
    for _ in range(25):  # login tier: 10 pass, 15 refused
        client.post("/api/v1/auth/login", {}, content_type="application/json")
    # 10 counted by the ip tier, 5 left; the auth tier (20) has 10 left
    assert client.get("/api/v1/auth/verify-email").status_code != 429
    assert [client.get("/api/v1/nope").status_code for _ in range(5)] == [404] * 4 + [429]


def test_ipv6_clients_are_limited_per_64(client, frozen, monkeypatch):
    monkeypatch.setattr(django_settings, "RATE_LIMIT_IP_PER_MINUTE", 3)
    codes = [
        client.get("/api/v1/nope", REMOTE_ADDR=f"2001:db8:1:2::{i}").status_code
        for i in range(1, 5)
    ]
    assert codes == [404, 404, 404, 429]
    assert client.get("/api/v1/nope", REMOTE_ADDR="2001:db8:1:3::1").status_code == 404


def test_the_from_header_survives_a_comma_in_the_name(superadmin):
    system_settings_update(
        values={
            "smtp_enabled": True,
            "smtp_from_name": "Acme, Inc",
            "smtp_from_email": "no-reply@acme.test",
        },
        actor=superadmin,
    )
    assert from_address() == '"Acme, Inc" <no-reply@acme.test>'
