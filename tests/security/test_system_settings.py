"""System settings: typed, validated, cached, live without restart (contract §11, §13.9)."""

from __future__ import annotations

import pytest

from security import system_settings
from security.models import AuditLog, SystemSetting
from security.system_settings import DEFINITIONS, get_setting

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api, staff):
    api.force_login(staff)
    return api


def test_every_contract_setting_is_seeded_with_its_default():
    rows = {r.key: r for r in SystemSetting.objects.all()}
    assert set(rows) == set(DEFINITIONS)
    assert rows["max_login_attempts"].value == 5
    assert rows["site_name"].value == "My Application"
    assert rows["smtp_password"].is_sensitive
    assert rows["usage_enforcement"].value == "off"
    assert rows["session_timeout_minutes"].value == 10080


def test_the_accessor_returns_defaults_and_typed_values():
    assert get_setting("maintenance_mode") is False
    assert get_setting("rate_limit_login_per_minute") == 10


def test_staff_list_every_setting_with_sensitive_values_masked(admin_api, staff):
    admin_api.put("/api/v1/admin/settings/smtp_password", {"value": "hunter2"}, format="json")
    body = admin_api.get("/api/v1/admin/settings").json()
    by_key = {s["key"]: s for s in body}
    assert set(by_key) == set(DEFINITIONS)
    assert by_key["smtp_password"]["value"] == "********"
    assert by_key["smtp_password"]["is_sensitive"] is True
    assert set(by_key["site_name"]) == {
        "id",
        "key",
        "value",
        "category",
        "description",
        "is_sensitive",
        "updated_at",
    }
    assert "hunter2" not in str(body)


def test_an_empty_sensitive_value_is_masked_too(admin_api):
    assert get_setting("smtp_password") == ""
    by_key = {s["key"]: s for s in admin_api.get("/api/v1/admin/settings").json()}
    assert by_key["smtp_password"]["value"] == "********"
    email = admin_api.get("/api/v1/admin/settings/email").json()
    assert "smtp_password" not in email  # write-only in the typed view
    assert email["smtp_password_set"] is False


def test_staff_list_one_category(admin_api):
    body = admin_api.get("/api/v1/admin/settings/ratelimit").json()
    assert {s["category"] for s in body} == {"ratelimit"}
    assert "rate_limit_api_per_minute" in {s["key"] for s in body}


def test_an_unknown_category_is_404(admin_api):
    assert admin_api.get("/api/v1/admin/settings/nonsense").json()["error"] == "NOT_FOUND"


def test_updating_a_setting_takes_effect_at_once_and_is_audited(admin_api, staff):
    response = admin_api.put(
        "/api/v1/admin/settings/max_login_attempts", {"value": 3}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Setting updated successfully"}
    assert get_setting("max_login_attempts") == 3
    entry = AuditLog.objects.get(action="settings_update")
    assert entry.actor == staff
    assert entry.changes == {"max_login_attempts": {"old": 5, "new": 3}}


def test_other_processes_see_a_change_after_their_local_copy_expires(admin_api, monkeypatch):
    assert get_setting("rate_limit_login_per_minute") == 10  # this "process" has a local copy
    SystemSetting.objects.filter(key="rate_limit_login_per_minute").update(
        value=2, is_customized=True
    )
    system_settings.invalidate()  # what a write in another process does to the shared cache
    monkeypatch.setattr(system_settings, "_local_loaded_at", 0.0)  # local TTL elapsed
    assert get_setting("rate_limit_login_per_minute") == 2


def test_numeric_strings_and_boolean_strings_are_accepted(admin_api):
    admin_api.put("/api/v1/admin/settings/lockout_duration_minutes", {"value": "30"}, format="json")
    admin_api.put("/api/v1/admin/settings/allow_registration", {"value": "false"}, format="json")
    assert get_setting("lockout_duration_minutes") == 30
    assert get_setting("allow_registration") is False


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_login_attempts", "many", "value: Must be a whole number"),
        ("max_login_attempts", -1, "value: Must be at least 1"),
        ("rate_limit_api_per_minute", 0, "value: Must be at least 1"),
        ("smtp_port", 70000, "value: Must be at most 65535"),
        ("maintenance_mode", "maybe", "value: Must be true or false"),
        ("contact_email", "not-an-email", "value: Enter a valid email address"),
        ("support_url", "javascript:alert(1)", "value: Enter a valid URL"),
        ("usage_enforcement", "sometimes", "value: Must be one of: off, api_calls, all"),
        ("site_name", 42, "value: Must be a string"),
    ],
)
def test_wrong_types_and_ranges_are_400_and_change_nothing(admin_api, key, value, message):
    before = get_setting(key)
    response = admin_api.put(f"/api/v1/admin/settings/{key}", {"value": value}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR"
    assert body["message"] == message
    assert body["details"][0]["field"] == "value"
    assert get_setting(key) == before
    assert not AuditLog.objects.exists()


def test_an_unknown_key_is_404(admin_api):
    response = admin_api.put("/api/v1/admin/settings/no_such_key", {"value": 1}, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


def test_a_missing_value_is_a_validation_error(admin_api):
    response = admin_api.put("/api/v1/admin/settings/site_name", {}, format="json")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "value"


def test_the_security_view_accepts_partial_updates_and_the_alias(admin_api, staff):
    from tests.accounts.helpers import enrol

    enrol(staff)  # require_2fa_for_admins is turned on below
    response = admin_api.put(
        "/api/v1/admin/settings/security",
        {"password_min_length": 12, "require_2fa_for_admin": True, "unknown": 1},
        format="json",
    )
    assert response.status_code == 200
    body = admin_api.get("/api/v1/admin/settings/security").json()
    assert body["password_min_length"] == 12
    assert body["require_2fa_for_admins"] is True
    assert body["require_2fa_for_admin"] is True
    assert body["max_login_attempts"] == 5


def test_a_bad_field_in_a_grouped_update_changes_nothing(admin_api):
    response = admin_api.put(
        "/api/v1/admin/settings/security",
        {"password_min_length": 12, "max_login_attempts": 0},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "max_login_attempts"
    assert get_setting("password_min_length") == 8


def test_the_email_view_hides_the_password_and_accepts_react_aliases(admin_api):
    admin_api.put(
        "/api/v1/admin/settings/email",
        {
            "smtp_username": "mailer",
            "smtp_password": "s3cret",
            "from_name": "Keel",
            "smtp_enabled": False,
        },
        format="json",
    )
    body = admin_api.get("/api/v1/admin/settings/email").json()
    assert body["smtp_user"] == body["smtp_username"] == "mailer"
    assert body["from_name"] == body["smtp_from_name"] == "Keel"
    assert body["smtp_password_set"] is True
    assert "s3cret" not in str(body)
    assert get_setting("smtp_password") == "s3cret"


def test_echoing_the_mask_back_keeps_the_stored_password(admin_api):
    admin_api.put("/api/v1/admin/settings/email", {"smtp_password": "s3cret"}, format="json")
    admin_api.put(
        "/api/v1/admin/settings/email",
        {"smtp_password": "********", "smtp_host": "mx"},
        format="json",
    )
    assert get_setting("smtp_password") == "s3cret"
    assert get_setting("smtp_host") == "mx"


def test_the_site_view_round_trips(admin_api):
    admin_api.put("/api/v1/admin/settings/site", {"site_name": "Acme Cloud"}, format="json")
    assert admin_api.get("/api/v1/admin/settings/site").json()["site_name"] == "Acme Cloud"


def test_the_test_email_is_sent_to_the_caller_by_default(admin_api, staff, mailoutbox):
    response = admin_api.post("/api/v1/admin/settings/email/test", {}, format="json")
    assert response.status_code == 200
    assert response.json()["data"] == {"recipient": staff.email}
    assert mailoutbox[0].to == [staff.email]


def test_a_failing_email_transport_is_a_400_with_its_error(admin_api):
    admin_api.put(
        "/api/v1/admin/settings/email",
        {"smtp_enabled": True, "smtp_host": "127.0.0.1", "smtp_port": 9},
        format="json",
    )
    response = admin_api.post(
        "/api/v1/admin/settings/email/test", {"recipient_email": "x@example.com"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Could not send the test email")


def test_non_staff_are_refused(api, alice):
    api.force_login(alice)
    assert api.get("/api/v1/admin/settings").status_code == 403
    assert (
        api.put("/api/v1/admin/settings/site_name", {"value": "x"}, format="json").status_code
        == 403
    )


def test_anonymous_callers_are_401(api):
    assert api.get("/api/v1/admin/settings").status_code == 401


def test_a_customized_setting_beats_the_environment(admin_api, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_API_PER_MINUTE", "250")
    system_settings.invalidate()
    assert get_setting("rate_limit_api_per_minute") == 250
    admin_api.put("/api/v1/admin/settings/rate_limit_api_per_minute", {"value": 40}, format="json")
    assert get_setting("rate_limit_api_per_minute") == 40
