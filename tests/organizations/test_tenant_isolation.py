"""Tenant isolation matrix (issue 6): every org-scoped route, found in the URLconf so that new
routes are covered automatically, against an outsider, a member, an admin, an owner, a key of
this org and a key of another org. A wrong caller must never get through: outsiders and other
orgs' keys see 404, callers below the route's role see 403."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from organizations.api import OrgView
from organizations.models import ORG_ROLE_LEVELS, Invitation, OrgRole
from tests.organizations.conftest import make_key

pytestmark = pytest.mark.django_db
SLUG_PART = "organizations/<str:slug>"


def org_routes() -> list[tuple[str, type]]:
    found: list[tuple[str, type]] = []

    def walk(patterns: list, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and route.startswith("api/v1/") and SLUG_PART in route:
                found.append((route, p.callback.view_class))

    walk(get_resolver().url_patterns, "")
    return found


ROUTES = org_routes()
CASES = [
    (route, view, method)
    for route, view in ROUTES
    for method in sorted(getattr(view, "org_roles", {}) or {"get": "member"})
]
CALLERS = ["outsider", "other_org_key", "member", "admin", "owner", "member_key", "admin_key"]


def test_every_org_scoped_route_goes_through_the_org_permission_layer():
    assert ROUTES, "no org routes found"
    for route, view in ROUTES:
        assert issubclass(view, OrgView), f"{route} does not use OrgView"
        assert view.org_roles, f"{route} declares no roles"
        for method in view.org_roles:
            assert hasattr(view, method), f"{route}: role for a missing method {method}"


@pytest.fixture
def world(acme, dave, globex, bob, alice, charlie):
    invitation = Invitation.objects.create(
        organization=acme,
        email="pending@example.com",
        role="member",
        token_hash="x" * 64,
        invited_by=alice,
        expires_at="2999-01-01T00:00:00Z",
    )
    key, member_raw = make_key(acme)
    _, admin_raw = make_key(acme, OrgRole.ADMIN)
    _, globex_raw = make_key(globex, OrgRole.ADMIN)
    return {
        "ids": {"user_id": bob.pk, "invitation_id": invitation.pk, "key_id": key.pk},
        "users": {"outsider": charlie, "member": bob, "admin": dave, "owner": alice},
        "keys": {"member_key": member_raw, "admin_key": admin_raw, "other_org_key": globex_raw},
    }


def url_for(route: str, ids: dict[str, int]) -> str:
    path = route.replace("<str:slug>", "acme")
    return "/" + re.sub(r"<int:(\w+)>", lambda m: str(ids[m.group(1)]), path)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    ("route", "view", "method"), CASES, ids=[f"{m.upper()} {r}" for r, _, m in CASES]
)
def test_no_route_lets_the_wrong_caller_through(world, route, view, method, caller):
    client = APIClient()
    if caller in world["users"]:
        client.force_authenticate(world["users"][caller])
    else:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['keys'][caller]}")
    response = getattr(client, method)(url_for(route, world["ids"]), {}, format="json")
    status = response.status_code
    required = ORG_ROLE_LEVELS[OrgRole(view.org_roles[method])]
    if caller in ("outsider", "other_org_key"):
        assert status == 404, f"{caller} got {status}"
        assert response.json()["message"] == "Organization not found"
        return
    level = {"member": 1, "admin": 2, "owner": 3, "member_key": 1, "admin_key": 2}[caller]
    key_refused = caller.endswith("_key") and not view.api_keys_allowed
    if level < required or key_refused:
        assert status == 403, f"{caller} (level {level}) got {status}, needs {required}"
    else:
        assert status not in (401, 403, 404), f"{caller} refused with {status}: {response.json()}"
