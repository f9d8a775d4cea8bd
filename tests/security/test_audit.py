"""Audit log (contract §11, §13.10)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.context import client_ip_var, impersonator_id_var, request_id_var, user_agent_var
from security.models import AuditLog
from security.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_api(api, staff):
    api.force_login(staff)
    return api


def test_audit_record_takes_ip_user_agent_and_request_id_from_the_context(alice):
    tokens = [
        client_ip_var.set("203.0.113.5"),
        user_agent_var.set("Mozilla/5.0 Test"),
        request_id_var.set("req-audit-1"),
    ]
    try:
        entry = audit_record(
            actor=alice, action="profile_update", target_type="user", target_id=alice.pk
        )
    finally:
        for var, token in zip((client_ip_var, user_agent_var, request_id_var), tokens, strict=True):
            var.reset(token)
    assert entry.ip_address == "203.0.113.5"
    assert entry.user_agent == "Mozilla/5.0 Test"
    assert entry.request_id == "req-audit-1"
    assert entry.target_id == str(alice.pk)


def test_audit_record_never_stores_secrets(alice):
    entry = audit_record(
        actor=alice,
        action="password_change",
        target_type="user",
        changes={"password": "hunter2", "name": {"old": "A", "new": "B"}, "api_key": "keel_x"},
        metadata={"refresh_token": "abc", "reason": "rotation"},
    )
    assert entry.changes["password"] == "[REDACTED]"
    assert entry.changes["api_key"] == "[REDACTED]"
    assert entry.changes["name"] == {"old": "A", "new": "B"}
    assert entry.metadata == {"refresh_token": "[REDACTED]", "reason": "rotation"}


def test_audit_record_notes_the_impersonator(alice, superadmin):
    token = impersonator_id_var.set(superadmin.pk)
    try:
        entry = audit_record(actor=alice, action="profile_update", target_type="user")
    finally:
        impersonator_id_var.reset(token)
    assert entry.impersonator == superadmin
    assert entry.metadata["impersonated_by"] == superadmin.pk


def test_system_actions_have_no_actor():
    assert audit_record(actor=None, action="cleanup", target_type="session").actor is None


def test_staff_read_audit_logs_with_the_contract_shape(admin_api, alice):
    audit_record(actor=alice, action="login", target_type="user", target_id=alice.pk)
    body = admin_api.get("/api/v1/admin/audit-logs").json()
    assert set(body) == {"logs", "count", "total", "page", "limit", "total_pages"}
    (log,) = body["logs"]
    assert log["user_id"] == alice.pk
    assert log["user_email"] == alice.email
    assert log["user_name"] == alice.name
    assert log["action"] == "login"
    assert log["target_id"] == str(alice.pk)
    assert (
        body["total"] == 1
        and body["page"] == 1
        and body["limit"] == 20
        and body["total_pages"] == 1
    )


def test_audit_logs_filter_by_user_action_target_and_dates(admin_api, alice, bob):
    audit_record(actor=alice, action="login", target_type="user", target_id=alice.pk)
    audit_record(actor=bob, action="logout", target_type="user", target_id=bob.pk)
    old = audit_record(actor=bob, action="login", target_type="organization", target_id=7)
    AuditLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))

    def actions(query: str) -> list[str]:
        return [
            log["action"]
            for log in admin_api.get(f"/api/v1/admin/audit-logs?{query}").json()["logs"]
        ]

    assert actions(f"user_id={bob.pk}") == ["logout", "login"]
    assert actions("action=login") == ["login", "login"]
    assert actions("target_type=organization&target_id=7") == ["login"]
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert sorted(actions(f"start_date={since}")) == ["login", "logout"]
    until = (timezone.now() - timedelta(days=5)).date().isoformat()
    assert actions(f"end_date={until}") == ["login"]


def test_audit_logs_paginate(admin_api, alice):
    for i in range(25):
        audit_record(actor=alice, action=f"a{i}", target_type="user")
    body = admin_api.get("/api/v1/admin/audit-logs?page=2&limit=10").json()
    assert (
        body["count"] == 10
        and body["total"] == 25
        and body["total_pages"] == 3
        and body["page"] == 2
    )
    assert admin_api.get("/api/v1/admin/audit-logs?limit=1000").json()["limit"] == 20


def test_listing_audit_logs_takes_a_constant_number_of_queries(
    admin_api, alice, bob, django_assert_max_num_queries
):
    for user in (alice, bob) * 10:
        audit_record(actor=user, action="x", target_type="user")
    with django_assert_max_num_queries(6):
        admin_api.get("/api/v1/admin/audit-logs")


@pytest.mark.parametrize(
    "query", ["user_id=abc", "start_date=yesterday", "end_date=31-12-2026", "user_id=0"]
)
def test_bad_filters_are_400(admin_api, query):
    response = admin_api.get(f"/api/v1/admin/audit-logs?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "VALIDATION_ERROR"


def test_members_cannot_read_audit_logs(api, alice):
    api.force_login(alice)
    assert api.get("/api/v1/admin/audit-logs").status_code == 403


def test_the_django_admin_audit_log_is_read_only(client, superadmin):
    entry = audit_record(actor=superadmin, action="x", target_type="user")
    client.force_login(superadmin)
    assert client.get("/admin/security/auditlog/").status_code == 200
    assert client.get("/admin/security/auditlog/?q=x").status_code == 200
    assert client.get("/admin/security/auditlog/add/").status_code == 403
    page = client.get(f"/admin/security/auditlog/{entry.pk}/change/")
    assert page.status_code == 200 and b'type="submit" value="Save"' not in page.content
