"""Query budgets (issue 12): the hot routes' query counts are pinned, and no list — API or Django
admin — costs more queries when it has more rows (N+1 guards). The list endpoints that already
have such a test elsewhere are named in ELSEWHERE; a test below fails when a GET list route or
an admin model appears that is covered nowhere."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.auth import sessions
from accounts.models import (
    BackupCode,
    DataExport,
    LoginHistory,
    RotatedRefreshToken,
    TokenBlacklist,
    TOTPDevice,
    UserPreferences,
)
from config.models import WorkerHeartbeat
from organizations.models import Invitation, OrgAPIKey
from security.models import AuditLog, IdempotencyKey, IPBlock
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from usage.models import UsageAlert, UsageEvent, UsageFoldBatch, UsagePeriod

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="203.0.113.7", user_agent="pytest")


def count_queries(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


# --- hot routes: pinned counts ------------------------------------------------------------------
@pytest.fixture
def bearer(alice, acme) -> dict[str, str]:
    token = sessions.session_create(user=alice, meta=META, method="password").access.token
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("path", "budget"),
    [
        ("/health/live", 0),
        ("/api/v1/csrf-token", 0),
        # The user comes from the cache, the token blacklist and IP blocklist from per-process
        # copies checked against a version stamp: no query.
        ("/api/v1/auth/me", 0),
        ("/api/v1/organizations", 1),
        # The org by its slug and the rows; the caller's role is cached (organizations.access).
        ("/api/v1/organizations/acme/members", 2),
    ],
)
def test_a_hot_route_keeps_its_query_count(client, bearer, path, budget):
    get = lambda: client.get(path, **bearer)  # noqa: E731
    assert get().status_code == 200  # warm: caches and per-process copies filled
    with CaptureQueriesContext(connection) as captured:
        get()
    assert len(captured.captured_queries) == budget, [q["sql"] for q in captured]


# --- API lists: the count does not grow with the rows -------------------------------------------
# Covered by their own tests: organizations, members, invitations, api-keys
# (tests/organizations/test_organizations_api.py), admin users, search and deleted
# (tests/accounts/test_staff_api.py), admin audit logs (tests/security/test_audit.py).
# Arrays of a fixed size, not rows that grow: the settings catalogue, the configured OAuth
# providers, /health's components.
NOT_LISTS = {
    "/api/v1/admin/settings",
    "/api/v1/admin/settings/{name}",
    "/api/v1/auth/oauth/providers",
    "/health",
}
ELSEWHERE = {
    "/api/v1/organizations",
    "/api/v1/organizations/{slug}/members",
    "/api/v1/organizations/{slug}/invitations",
    "/api/v1/organizations/{slug}/api-keys",
    "/api/v1/admin/users",
    "/api/v1/admin/users/deleted",
    "/api/v1/admin/audit-logs",
    "/api/v1/billing/plans",  # tests/billing/test_query_budget.py
    "/api/v1/usage/history",  # tests/usage/test_query_budget.py
    "/api/v1/usage/alerts",  # tests/usage/test_query_budget.py
}


def _grow_sessions(user, n):
    for _ in range(n):
        sessions.session_create(user=user, meta=META, method="password")


def _grow_history(user, n):
    LoginHistory.objects.bulk_create(
        LoginHistory(user=user, success=bool(i % 2), ip_address="203.0.113.7") for i in range(n)
    )


def _grow_activity(user, n):
    AuditLog.objects.bulk_create(
        AuditLog(actor=user, action="profile_update", target_type="user", target_id=str(user.pk))
        for _ in range(n)
    )


def _grow_connected(user, n):
    from allauth.socialaccount.models import SocialAccount

    for i in range(n):
        SocialAccount.objects.create(
            user=user, provider=("google", "github")[i % 2], uid=secrets.token_hex(6)
        )


def _grow_blocks(user, n):
    IPBlock.objects.bulk_create(
        IPBlock(ip_address=f"198.51.100.{i + 1}", reason="test", created_by=user) for i in range(n)
    )


def _grow_users(user, n):
    for _ in range(n):
        MembershipFactory(user=UserFactory(), organization=OrganizationFactory())


API_LISTS: dict[str, tuple[str, Callable]] = {
    # path: (caller, grow(caller, n))
    "/api/v1/users/me/sessions": ("alice", _grow_sessions),
    "/api/v1/users/me/login-history": ("alice", _grow_history),
    "/api/v1/users/me/activity": ("alice", _grow_activity),
    "/api/v1/users/me/connected-accounts": ("alice", _grow_connected),
    "/api/v1/admin/ip-blocklist": ("superadmin", _grow_blocks),
    "/api/v1/users": ("superadmin", _grow_users),
}


@pytest.mark.parametrize("path", sorted(API_LISTS))
def test_an_api_list_costs_the_same_queries_for_more_rows(request, as_user, path):
    name, grow = API_LISTS[path]
    caller = request.getfixturevalue(name)
    client = as_user(caller)

    def get() -> None:
        response = client.get(path)
        assert response.status_code == 200, response.content

    grow(caller, 2)
    get()  # warm
    few = count_queries(get)
    grow(caller, 12)
    assert count_queries(get) == few


def test_every_get_list_route_has_a_query_budget(as_user, superadmin):
    """A list route (a GET whose data is a list, or a page of one) appears in API_LISTS or
    ELSEWHERE: new list endpoints get their N+1 guard."""
    schema = as_user(superadmin).get("/api/schema?format=json").json()

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def has_array(node: dict, depth: int) -> bool:
        node = resolve(node)
        if node.get("type") == "array":
            return True
        return depth > 0 and any(
            has_array(p, depth - 1) for p in node.get("properties", {}).values()
        )

    def is_list(operation: dict) -> bool:
        """Rows of something: a top-level array, or an array at most two levels down (an
        envelope's data, a page's rows)."""
        content = operation.get("responses", {}).get("200", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        return body is not None and has_array(body, 2)

    lists = {
        path
        for path, operations in schema["paths"].items()
        if "get" in operations and is_list(operations["get"])
    }
    assert {"/api/v1/organizations", "/api/v1/admin/users"} <= lists, "the schema changed shape"
    assert lists <= set(API_LISTS) | ELSEWHERE | NOT_LISTS, sorted(
        lists - set(API_LISTS) - ELSEWHERE - NOT_LISTS
    )


# --- Django admin changelists ------------------------------------------------------------------
def _session(user):
    return sessions.session_create(user=user, meta=META, method="password").session


def _h(n: int) -> str:
    return secrets.token_hex(32)


def _later() -> timezone.datetime:
    return timezone.now() + timedelta(days=1)


ADMIN_GROW: dict[str, Callable] = {
    "accounts.User": lambda u, n: UserFactory.create_batch(n),
    "accounts.UserSession": lambda u, n: [_session(UserFactory()) for _ in range(n)],
    "accounts.RotatedRefreshToken": lambda u, n: [
        RotatedRefreshToken.objects.create(session=_session(UserFactory()), token_hash=_h(i))
        for i in range(n)
    ],
    "accounts.TokenBlacklist": lambda u, n: [
        TokenBlacklist.objects.create(user=UserFactory(), token_hash=_h(i), expires_at=_later())
        for i in range(n)
    ],
    "accounts.LoginHistory": lambda u, n: [
        LoginHistory.objects.create(user=UserFactory(), success=True) for _ in range(n)
    ],
    "accounts.TOTPDevice": lambda u, n: [
        TOTPDevice.objects.create(name="app", user=UserFactory(), encrypted_secret="x")
        for _ in range(n)
    ],
    "accounts.BackupCode": lambda u, n: [
        BackupCode.objects.create(user=UserFactory(), code_hash=_h(i)) for i in range(n)
    ],
    "accounts.UserPreferences": lambda u, n: [
        UserPreferences.objects.get_or_create(user=UserFactory())[0] for _ in range(n)
    ],
    "accounts.DataExport": lambda u, n: [
        DataExport.objects.create(user=UserFactory()) for _ in range(n)
    ],
    "organizations.Organization": lambda u, n: [
        MembershipFactory(user=UserFactory(), organization=OrganizationFactory()) for _ in range(n)
    ],
    "organizations.Membership": lambda u, n: MembershipFactory.create_batch(n),
    "organizations.Invitation": lambda u, n: [
        Invitation.objects.create(
            organization=OrganizationFactory(),
            email=f"i{i}@example.com",
            token_hash=_h(i),
            expires_at=_later(),
            invited_by=UserFactory(),
        )
        for i in range(n)
    ],
    "organizations.OrgAPIKey": lambda u, n: [
        OrgAPIKey.objects.create(
            organization=OrganizationFactory(), name="k", prefix=f"keel_{i:04d}", key_hash=_h(i)
        )
        for i in range(n)
    ],
    "security.AuditLog": lambda u, n: [
        AuditLog.objects.create(actor=UserFactory(), action="x", target_type="user")
        for _ in range(n)
    ],
    "security.IPBlock": lambda u, n: [
        IPBlock.objects.create(ip_address=f"198.51.100.{i + 1}", created_by=UserFactory())
        for i in range(n)
    ],
    "security.IdempotencyKey": lambda u, n: [
        IdempotencyKey.objects.create(
            principal=f"user:{i}",
            key=secrets.token_hex(8),
            request_hash=_h(i),
            method="POST",
            path="/x",
            expires_at=_later(),
        )
        for i in range(n)
    ],
    "usage.UsagePeriod": lambda u, n: [
        UsagePeriod.objects.create(
            user=UserFactory(), period_start=date(2026, 1, 1), period_end=date(2026, 1, 31)
        )
        for _ in range(n)
    ],
    "usage.UsageAlert": lambda u, n: [
        UsageAlert.objects.create(
            organization=OrganizationFactory(),
            alert_type="warning_80",
            usage_type="api_call",
            current_usage=80,
            usage_limit=100,
            percentage_used=80,
            period_start=date(2026, 1, 1),
            period_end=date(2026, 1, 31),
        )
        for _ in range(n)
    ],
    "usage.UsageEvent": lambda u, n: [
        UsageEvent.objects.create(
            user=UserFactory(), event_type="api_call", resource="api", occurred_at=timezone.now()
        )
        for _ in range(n)
    ],
    "usage.UsageFoldBatch": lambda u, n: [
        UsageFoldBatch.objects.create(name=secrets.token_hex(8)) for _ in range(n)
    ],
    "platform.WorkerHeartbeat": lambda u, n: [
        WorkerHeartbeat.objects.create(name=f"w{secrets.token_hex(4)}", beat_at=timezone.now())
        for _ in range(n)
    ],
}
# Not grown: one row per known setting (a fixed catalogue seeded by migration).
ADMIN_FIXED = {"security.SystemSetting"}
KEEL_APPS = {"accounts", "organizations", "security", "platform", "billing", "usage"}


def keel_admin_models() -> set[str]:
    return {m._meta.label for m in admin.site._registry if m._meta.app_label in KEEL_APPS}


def test_every_keel_admin_model_has_a_query_budget():
    assert keel_admin_models() == set(ADMIN_GROW) | ADMIN_FIXED


@pytest.mark.parametrize("label", sorted(ADMIN_GROW))
def test_an_admin_changelist_costs_the_same_queries_for_more_rows(client, superadmin, label):
    app_label, model = label.lower().split(".")
    url = reverse(f"admin:{app_label}_{model}_changelist")
    client.force_login(superadmin)

    def get() -> None:
        response = client.get(url)
        assert response.status_code == 200

    ADMIN_GROW[label](superadmin, 2)
    get()  # warm
    few = count_queries(get)
    ADMIN_GROW[label](superadmin, 10)
    assert count_queries(get) == few, f"{label}: the changelist does a query per row"
