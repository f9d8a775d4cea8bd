"""The route-policy table (config/routes.py): every URL pattern falls in the groups it should."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from config import routes

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = {"int": "7", "slug": "acme", "path": "x/y", "str": "github"}


def _sample(route: str) -> str:
    """A concrete path for a URL pattern (`<int:id>` → 7, regex catch-alls → a word)."""
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    path = re.sub(r"\^|\$|\(\?P<\w+>[^)]*\)\*?|\.\*", "x", path)
    return "/" + path


def _url_routes() -> list[str]:
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns, "")
    return found


ROUTES = _url_routes()
V1 = sorted({r.removeprefix("api/v1/") for r in ROUTES if r.startswith("api/v1/")} - {"^.*$"})
PAGES = sorted(r for r in ROUTES if not r.startswith(("api/", "health", "metrics")) and r != "api")


def _v1(route: str, method: str = "POST") -> set[str]:
    return routes.groups_of(_sample("api/v1/" + route), method)


def _api_routes_in(group: routes.RouteGroup, method: str = "POST") -> set[str]:
    return {r for r in V1 if group.matches(_sample("api/v1/" + r), method)}


def test_the_url_conf_is_walked():
    assert "auth/login" in V1 and "organizations/<str:slug>/members" in V1
    assert "settings/profile/" in PAGES and "admin/" in PAGES


@pytest.mark.parametrize("route", V1)
def test_the_alias_prefix_is_in_the_same_groups(route):
    for method in ("GET", "POST"):
        assert routes.groups_of(_sample("api/" + route), method) == _v1(route, method)


def test_every_api_route_renders_json_errors_and_no_page_does():
    for route in V1:
        assert {"api", "json_errors"} <= _v1(route), route
    for route in PAGES:
        assert not routes.JSON_ERRORS.matches(_sample(route)), route
    for machine in ("/health", "/health/ready", "/metrics", "/ws", "/api", "/api/schema"):
        assert routes.JSON_ERRORS.matches(machine), machine


def test_every_api_route_is_in_exactly_one_route_tier():
    tiers = {"tier_auth", "tier_api", "tier_user"}
    for route in V1:
        if route.startswith("health") or route == "webhooks/stripe":
            assert "unthrottled" in _v1(route), route  # no rate limit (contract §0.9)
            continue
        assert len(_v1(route) & tiers) == 1, (route, _v1(route) & tiers)


def test_the_user_tier_is_the_contracts_list():
    expected = {"auth/me", "csrf-token"} | {r for r in V1 if re.match(r"(users/me|usage)(/|$)", r)}
    assert _api_routes_in(routes.USER_TIER) == expected
    for later in ("usage", "usage/events", "notifications", "notifications/7/read",
                  "feature-flags", "announcements", "announcements/unread-modals", "changelog"):  # fmt: skip
        assert "tier_user" in _v1(later), later


def test_the_auth_tier_and_its_login_and_register_caps():
    assert _api_routes_in(routes.AUTH_TIER) == {
        "auth/register", "auth/login", "auth/token", "auth/verify-email",
        "auth/verify-email/resend", "auth/reset-password", "auth/reset-password/confirm",
        "auth/oauth/providers", "auth/oauth/<str:provider>", "auth/oauth/<str:provider>/callback",
        "auth/google", "auth/github",
    }  # fmt: skip
    assert _api_routes_in(routes.LOGIN_TIER) == {"auth/login", "auth/token"}
    assert _api_routes_in(routes.REGISTER_TIER) == {"auth/register"}
    pages = {r for r in PAGES if routes.AUTH_TIER.matches(_sample(r))}
    assert {"accounts/login/", "accounts/signup/", "accounts/password/reset/", "accounts/2fa/",
            "verify-email", "reset-password"} <= pages  # fmt: skip
    assert not any(r.startswith(("settings/", "org/", "admin/")) for r in pages)


def test_operations_routes_skip_the_blocklist_limits_maintenance_and_csrf_cookie():
    for path in ("/health", "/health/ready", "/health/live", "/metrics", "/api/v1/health/live"):
        assert {"operations", "unthrottled", "maintenance_open", "no_csrf_cookie",
                "quiet_logs"} <= routes.groups_of(path), path  # fmt: skip
    assert {r for r in V1 if "operations" in _v1(r)} == {"health", "health/ready", "health/live"}
    assert not any(routes.OPERATIONS.matches(_sample(r)) for r in PAGES)


def test_maintenance_leaves_open_what_the_contract_lists():
    assert _api_routes_in(routes.MAINTENANCE_OPEN, "POST") == (
        {"health", "health/ready", "health/live", "csrf-token", "webhooks/stripe", "billing/config"}
        | {r for r in V1 if r.startswith("auth/")}
    )
    for open_route in ("webhooks/stripe", "changelog", "billing/config"):
        assert "maintenance_open" in _v1(open_route), open_route
    assert routes.MAINTENANCE_OPEN.matches("/api/v1/announcements", "GET")
    assert not routes.MAINTENANCE_OPEN.matches("/api/v1/announcements", "POST")
    assert not routes.MAINTENANCE_OPEN.matches("/api/v1/announcements/7/dismiss", "GET")
    pages = {r for r in PAGES if routes.MAINTENANCE_OPEN.matches(_sample(r), "POST")}
    assert {r for r in pages if not r.startswith("admin/")} == {
        "accounts/login/", "accounts/2fa/", "accounts/logout/", "accounts/login/code/confirm/",
    }  # fmt: skip


def test_email_verification_exempts_what_the_contract_lists():
    assert _api_routes_in(routes.VERIFICATION_EXEMPT, "POST") == (
        {"health", "health/ready", "health/live", "csrf-token"}
        | {r for r in V1 if r.startswith("auth/")}
    )
    assert routes.VERIFICATION_EXEMPT.matches("/api/v1/users/me", "GET")
    assert not routes.VERIFICATION_EXEMPT.matches("/api/v1/users/me", "PATCH")


def test_the_stripe_webhook_is_exempt_from_csrf_limits_and_idempotency():
    for path in ("/api/v1/webhooks/stripe", "/api/webhooks/stripe"):
        groups = routes.groups_of(path, "POST")
        assert {"stripe_webhook", "csrf_exempt", "unthrottled", "maintenance_open"} <= groups
        assert "idempotent" not in groups
    assert not any(routes.STRIPE_WEBHOOK.matches(_sample(r)) for r in ROUTES if "stripe" not in r)
    assert {r for r in V1 if "csrf_exempt" in _v1(r)} <= {"webhooks/stripe"}


def test_every_other_api_route_honours_idempotency_keys():
    assert {r for r in V1 if "idempotent" not in _v1(r)} <= {"webhooks/stripe"}


def test_body_limit_groups():
    assert _api_routes_in(routes.AVATAR_UPLOAD) == {"users/me/avatar"}
    assert [r for r in PAGES if routes.AVATAR_UPLOAD.matches(_sample(r))] == [
        "settings/profile/avatar"
    ]
    assert routes.FILE_UPLOAD.matches("/api/v1/files/upload")


def test_org_scoped_routes_name_their_slug():
    assert _api_routes_in(routes.ORG_SCOPED) == {
        r for r in V1 if r.startswith("organizations/<str:slug>")
    }
    assert routes.org_slug("/api/organizations/acme/members") == "acme"
    assert routes.org_slug("/api/v1/organizations") is None


def test_cache_control_groups_follow_the_contract():
    from config.middleware.cache_headers import cache_control_for

    assert cache_control_for("/health") == "public, max-age=5"
    assert cache_control_for("/api/v1/health/ready") == "public, max-age=5"
    assert cache_control_for("/api/changelog") == "public, max-age=60"
    assert cache_control_for("/api/v1/auth/me").startswith("no-cache, no-store")
    assert cache_control_for("/api/v1/admin/stats").startswith("no-cache, no-store")
    assert cache_control_for("/api/v1/files/7/download") == "private, max-age=300"
    assert cache_control_for("/api/v1/organizations") == "private, no-cache"
    assert cache_control_for("/settings/profile/") is None


def test_the_api_prefix_and_the_webhook_path_are_defined_once():
    found = subprocess.run(
        ["grep", "-rn", r"^_API\|webhooks/stripe", "--include=*.py", "config", "security",
         "accounts"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.splitlines()  # fmt: skip
    assert len(found) == 1 and found[0].startswith("config/routes.py:"), found


def test_metering_and_enforcement_cover_what_the_contract_says():
    """§6.3: health, the webhook, the CSRF token and the usage routes are not metered; §6.5:
    sign-in and billing stay open besides."""
    for path in ("/api/v1/users/me", "/api/v1/organizations/acme/members", "/api/admin/stats"):
        assert {"metered", "enforced"} <= routes.groups_of(path), path
    for path in ("/api/v1/health", "/api/v1/webhooks/stripe", "/api/v1/csrf-token",
                 "/api/v1/usage", "/api/v1/usage/events", "/api/v1/organizations/acme/usage"):  # fmt: skip
        assert not {"metered", "enforced"} & routes.groups_of(path), path
    for path in ("/api/v1/auth/me", "/api/v1/billing/checkout", "/api/v1/organizations/a/billing"):
        assert routes.groups_of(path) & {"metered", "enforced"} == {"metered"}, path
    assert not routes.METERED.matches("/settings/profile")  # pages are not the API
