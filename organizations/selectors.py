from __future__ import annotations

from collections.abc import Iterable

from organizations.models import Membership, MembershipStatus


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
