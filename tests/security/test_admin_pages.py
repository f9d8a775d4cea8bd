"""The Django admin screens of the security app."""

from __future__ import annotations

import pytest

from security.models import AuditLog, IPBlock, SystemSetting
from security.services import ip_block_create, system_settings_update
from security.system_settings import get_setting

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, superadmin):
    client.force_login(superadmin)
    return client


def change_url(key: str) -> str:
    return f"/admin/security/systemsetting/{SystemSetting.objects.get(key=key).pk}/change/"


def test_the_settings_list_masks_sensitive_values(admin_client, superadmin):
    system_settings_update(values={"smtp_password": "hunter2"}, actor=superadmin)
    html = admin_client.get("/admin/security/systemsetting/").content.decode()
    assert "max_login_attempts" in html
    assert "hunter2" not in html and "********" in html


def test_the_settings_list_masks_an_empty_sensitive_value(admin_client):
    html = admin_client.get("/admin/security/systemsetting/").content.decode()
    assert "********" in html


def test_a_valid_change_is_saved_audited_and_live(admin_client):
    response = admin_client.post(change_url("max_login_attempts"), {"value_input": "7"})
    assert response.status_code == 302
    assert get_setting("max_login_attempts") == 7
    assert AuditLog.objects.filter(action="settings_update").exists()


def test_an_invalid_value_is_refused_with_the_reason(admin_client):
    response = admin_client.post(change_url("max_login_attempts"), {"value_input": "0"})
    assert response.status_code == 200
    assert "Must be at least 1" in response.content.decode()
    assert get_setting("max_login_attempts") == 5


def test_a_sensitive_value_is_never_rendered_and_blank_keeps_it(admin_client, superadmin):
    system_settings_update(values={"smtp_password": "hunter2"}, actor=superadmin)
    page = admin_client.get(change_url("smtp_password")).content.decode()
    assert "hunter2" not in page and 'type="password"' in page
    admin_client.post(change_url("smtp_password"), {"value_input": ""})
    assert get_setting("smtp_password") == "hunter2"


def test_staff_add_blocks_in_the_admin_with_the_api_rules(admin_client):
    response = admin_client.post(
        "/admin/security/ipblock/add/",
        {"ip_range": "198.51.100.0/24", "reason": "abuse", "block_type": "manual"},
    )
    assert response.status_code == 302
    assert IPBlock.objects.get().ip_range == "198.51.100.0/24"
    assert AuditLog.objects.filter(action="ip_block").exists()
    refused = admin_client.post(
        "/admin/security/ipblock/add/", {"ip_range": "banana", "block_type": "manual"}
    )
    assert refused.status_code == 200
    assert IPBlock.objects.count() == 1


def test_the_lift_action_deactivates_blocks(admin_client):
    entry = ip_block_create(actor=None, ip_address="203.0.113.7")
    admin_client.post(
        "/admin/security/ipblock/", {"action": "lift_blocks", "_selected_action": [entry.pk]}
    )
    entry.refresh_from_db()
    assert entry.is_active is False


@pytest.mark.parametrize("model", ["systemsetting", "auditlog", "ipblock", "idempotencykey"])
def test_every_security_admin_screen_loads(admin_client, model):
    assert admin_client.get(f"/admin/security/{model}/").status_code == 200


def test_editing_a_blocks_reason_goes_through_the_service_and_is_audited(admin_client):
    entry = ip_block_create(actor=None, ip_address="203.0.113.9", reason="old")
    response = admin_client.post(
        f"/admin/security/ipblock/{entry.pk}/change/", {"reason": "credential stuffing"}
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.reason == "credential stuffing"
    audit = AuditLog.objects.get(action="ip_block_update", target_id=str(entry.pk))
    assert audit.changes == {"reason": {"old": "old", "new": "credential stuffing"}}
