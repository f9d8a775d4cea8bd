"""The one permission layer of org-scoped routes (contract §4): resolve the organization from
`{slug}` (or `X-Organization-Slug`) and the caller's role in it — a member's (cached) or an API
key's — then compare with the route's minimum role.

Outsiders and keys of other orgs get 404 (existence is not revealed); members below the role
get 403. Each route of an `organizations.api.OrgView` viewset carries `org_roles` (HTTP method
→ minimum role, from the viewset's `action_roles`) and `api_keys_allowed` (False for leave,
transfer and key management).
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from config.errors import Forbidden, NotFound, Unauthorized
from organizations.access import OrgActor, membership_role_cached
from organizations.models import Organization, OrgAPIKey, OrgRole
from organizations.services import SLUG_RE

NOT_FOUND = "Organization not found"


def org_actor_resolve(request: Request, slug: str | None) -> OrgActor:
    """Who the caller is in the org named by the route, or 401/404."""
    slug = slug or request.META.get("HTTP_X_ORGANIZATION_SLUG", "")
    if len(slug) > 63 or not SLUG_RE.match(slug):  # never a real org (and never a DB error)
        raise NotFound(NOT_FOUND)
    if isinstance(request.auth, OrgAPIKey):
        key = request.auth
        if key.organization.slug != slug or key.organization.deleted_at is not None:
            raise NotFound(NOT_FOUND)
        return OrgActor(organization=key.organization, role=key.role, api_key=key)
    user = request.user
    if not user or not user.is_authenticated:
        raise Unauthorized()
    organization = Organization.objects.filter(slug=slug, deleted_at__isnull=True).first()
    if organization is None:
        raise NotFound(NOT_FOUND)
    role = membership_role_cached(organization_id=organization.pk, user_id=user.pk)
    if role is None:
        raise NotFound(NOT_FOUND)
    return OrgActor(organization=organization, role=role, user=user)


class OrgRolePermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        actor = org_actor_resolve(request, view.kwargs.get("slug"))
        if actor.api_key is not None and not getattr(view, "api_keys_allowed", True):
            raise Forbidden("API keys cannot use this route")
        required = view.org_roles.get((request.method or "").lower(), OrgRole.OWNER)
        if not actor.at_least(required):
            raise Forbidden(f"This needs the {required} role in the organization")
        request.org_actor = actor  # type: ignore[attr-defined]  # Keel's own request attribute
        # For the middleware after the view (usage metering): the org the request acted in.
        request._request.keel_organization_id = actor.organization.pk  # type: ignore[attr-defined]
        return True
