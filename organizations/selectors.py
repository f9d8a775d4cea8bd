"""Reads of the organizations app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from organizations.models import Invitation, Membership, MembershipStatus, Organization, OrgAPIKey


def organization_member_ids(
    *, organization_id: int, roles: Iterable[str] | None = None
) -> list[int]:
    """User ids of the org's active members (optionally only these roles)."""
    qs = Membership.objects.filter(
        organization_id=organization_id,
        status=MembershipStatus.ACTIVE,
        user__is_active=True,
        user__deleted_at__isnull=True,
    )
    if roles is not None:
        qs = qs.filter(role__in=list(roles))
    return list(qs.values_list("user_id", flat=True))


def member_organization_ids(*, user_id: int) -> list[int]:
    """The live organizations the user is an active member of (their sockets' org groups)."""
    return list(
        Membership.objects.filter(
            user_id=user_id, status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True
        ).values_list("organization_id", flat=True)
    )


def organization_list_for_user(*, user: Any) -> list[tuple[Organization, str]]:
    """The user's organizations (active memberships of live orgs) with their role."""
    memberships = (
        Membership.objects.filter(
            user=user, status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True
        )
        .select_related("organization")
        .order_by("organization__name")
    )
    return [(m.organization, m.role) for m in memberships]


def organization_current(*, user: Any) -> tuple[Organization, str] | None:
    """The org the user last selected (else their first)."""
    membership = (
        Membership.objects.filter(
            user=user, status=MembershipStatus.ACTIVE, organization__deleted_at__isnull=True
        )
        .select_related("organization")
        .order_by(F("last_selected_at").desc(nulls_last=True), "organization__name")
        .first()
    )
    return (membership.organization, membership.role) if membership else None


def member_list(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization, status=MembershipStatus.ACTIVE)
        .select_related("user")
        .order_by("joined_at", "id")
    )


def invitation_list_pending(*, organization: Organization) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            organization=organization,
            accepted_at__isnull=True,
            declined_at__isnull=True,
            cancelled_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def api_key_list(*, organization: Organization) -> QuerySet[OrgAPIKey]:
    return (
        OrgAPIKey.objects.filter(organization=organization, revoked_at__isnull=True)
        .select_related("created_by")
        .order_by("-created_at")
    )


def organization_role(*, organization: Organization, user: Any) -> str:
    return (
        Membership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
        or ""
    )
