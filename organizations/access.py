"""Who is acting on an organization: a member (user + role) or an org API key (its role).

Resolved once per request by organizations.permissions from `{slug}` in the URL (or the
`X-Organization-Slug` header); services receive it and never look at the request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache as memoize

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.module_loading import import_string

from accounts.models import User
from config import realtime
from organizations.models import (
    ORG_ROLE_LEVELS,
    Membership,
    MembershipStatus,
    Organization,
    OrgAPIKey,
    OrgRole,
)

MEMBERSHIP_CACHE_TTL = 300
logger = logging.getLogger("keel.organizations")


@dataclass(frozen=True)
class OrgActor:
    organization: Organization
    role: str
    user: User | None = None  # a member; None for an org API key
    api_key: OrgAPIKey | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def level(self) -> int:
        return ORG_ROLE_LEVELS[OrgRole(self.role)]

    def at_least(self, role: str) -> bool:
        return self.level >= ORG_ROLE_LEVELS[OrgRole(role)]

    @property
    def audit_metadata(self) -> dict[str, object]:
        return {"api_key_id": self.api_key.pk} if self.api_key else {}


def _generation_key(organization_id: int, user_id: int) -> str:
    return f"org:membership:gen:{organization_id}:{user_id}"


def membership_role_cached(*, organization_id: int, user_id: int) -> str | None:
    """The user's active role in the org (None: not an active member), through a short cache.

    Cached roles are keyed by a per-(org, user) generation that every change bumps, so a slow
    request that read the old role just before a change can only refill a key nobody reads."""
    generation = cache.get(_generation_key(organization_id, user_id), 0)
    key = f"org:membership:{organization_id}:{user_id}:{generation}"
    role = cache.get(key)
    if role is None:
        role = (
            Membership.objects.filter(
                organization_id=organization_id,
                user_id=user_id,
                status=MembershipStatus.ACTIVE,
                organization__deleted_at__isnull=True,
            )
            .values_list("role", flat=True)
            .first()
        ) or ""
        cache.set(key, role, timeout=MEMBERSHIP_CACHE_TTL)
    return role or None


def membership_cache_clear(organization_id: int, user_id: int) -> None:
    """Make cached roles of this member stale now and again after the commit; the member's
    sockets re-read their organization groups (every membership change comes through here)."""
    realtime.member_orgs_changed(user_id)

    def bump() -> None:
        key = _generation_key(organization_id, user_id)
        cache.add(key, 0, timeout=None)
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=None)

    bump()
    transaction.on_commit(bump)
    # Robust: whatever fails in there is logged; neither the request that already committed
    # nor the callbacks after this one are affected.
    transaction.on_commit(lambda: members_changed(organization_id), robust=True)


@memoize
def _members_changed_hooks() -> tuple[Callable[..., None], ...]:
    return tuple(import_string(path) for path in settings.ORGANIZATION_MEMBERS_CHANGED)


def members_changed(organization_id: int) -> None:
    """Tell the `ORGANIZATION_MEMBERS_CHANGED` participants (billing's per-seat quantity) that
    an organization's memberships changed; called after the commit."""
    for hook in _members_changed_hooks():
        try:
            hook(organization_id=organization_id)
        except Exception:  # one participant's failure (its job queue down) spares the others
            logger.exception("members_changed participant failed", extra={"hook": repr(hook)})
