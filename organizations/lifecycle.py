"""Organizations in an account's lifecycle (accounts/lifecycle.py): the memberships section of
the GDPR export, the handover of the organizations a deleted user owned alone (contract §3.8),
and the organization count of the staff stats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, F, IntegerField, Value, When

from accounts.lifecycle import AccountParticipant, PurgeStep
from accounts.models import User
from config import realtime
from organizations.access import OrgActor, membership_cache_clear
from organizations.models import Membership, MembershipStatus, Organization, OrgRole
from organizations.services import organization_delete, ownership_transfer


@dataclass(frozen=True)
class OrgHandover:
    """What the purge does with an organization the user is the only owner of: hand it to
    `successor` (earliest-joined admin, else member), or delete it when nobody is left."""

    organization: Organization
    successor: Membership | None


def handover_plan(*, user: User) -> list[OrgHandover]:
    """The organizations that would lose their last owner, and who takes each over."""
    plan: list[OrgHandover] = []
    owned = Membership.objects.filter(
        user=user,
        role=OrgRole.OWNER,
        status=MembershipStatus.ACTIVE,
        organization__deleted_at__isnull=True,
    ).select_related("organization")
    for membership in owned.order_by("organization__name", "organization_id"):
        others = Membership.objects.filter(
            organization_id=membership.organization_id,
            status=MembershipStatus.ACTIVE,
            user__is_active=True,
            user__deleted_at__isnull=True,
        ).exclude(user=user)
        if others.filter(role=OrgRole.OWNER).exists():
            continue
        successor = (
            others.annotate(
                rank=Case(
                    When(role=OrgRole.ADMIN, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .select_related("user")
            .order_by("rank", F("joined_at").asc(nulls_last=True), "created_at", "id")
            .first()
        )
        plan.append(OrgHandover(organization=membership.organization, successor=successor))
    return plan


def _handover(item: OrgHandover, *, user: User) -> None:
    """Through the organizations services, as the departing owner would do it: transfer
    ownership (audit, `member_update` events, a notification to the new owner, role caches
    cleared) or soft-delete the org (invitations cancelled, API keys revoked)."""
    actor = OrgActor(organization=item.organization, role=OrgRole.OWNER, user=user)
    if item.successor is not None:
        ownership_transfer(actor=actor, user_id=item.successor.user_id)
    else:
        organization_delete(actor=actor)


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class OrganizationsLifecycle(AccountParticipant):
    export_readme = (("memberships", "the organizations you belong to and your role"),)

    def export(self, user: User) -> dict[str, Any]:
        rows = (
            Membership.objects.filter(user=user)
            .select_related("organization")
            .order_by("created_at", "id")
        )
        memberships = [
            {
                "organization_id": m.organization_id,
                "organization_name": m.organization.name,
                "organization_slug": m.organization.slug,
                "role": m.role,
                "status": m.status,
                "joined_at": _iso(m.joined_at),
                "created_at": _iso(m.created_at),
            }
            for m in rows
        ]
        return {"memberships": memberships}

    def deletion_blockers(self, user: User) -> list[str]:
        """Organizations the purge could not delete: the user is their only member and they
        still have a subscription (it must be cancelled, or the org handed over, first)."""
        names = [
            item.organization.name
            for item in handover_plan(user=user)
            if item.successor is None and item.organization.stripe_subscription_id
        ]
        if not names:
            return []
        return [
            f"You are the only member of {', '.join(names)}, which still has a subscription. "
            "Cancel the subscription or invite someone to take the organization over first."
        ]

    def purge_plan(self, user: User) -> list[str]:
        return [
            f"organization {item.organization.slug}: ownership to {item.successor.user.email}"
            if item.successor is not None
            else f"organization {item.organization.slug}: deleted (no other member)"
            for item in handover_plan(user=user)
        ]

    def purge(self, user: User) -> PurgeStep:
        """Hand over or delete the organizations the user owns alone; once the user row is gone,
        the members of the organizations they were still in hear that they left."""
        plan = handover_plan(user=user)
        for item in plan:
            _handover(item, user=user)
        left = list(
            Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE).values_list(
                "organization_id", "organization__slug"
            )
        )
        user_id = user.pk

        def departed() -> None:
            for organization_id, slug in left:
                membership_cache_clear(organization_id, user_id)
                realtime.publish_to_org(
                    organization_id,
                    "member_update",
                    {"org_slug": slug, "event": "removed", "user_id": user_id,
                     "reason": "account_deleted"},
                )  # fmt: skip

        metadata = {
            "organizations_transferred": [i.organization.pk for i in plan if i.successor],
            "organizations_deleted": [i.organization.pk for i in plan if not i.successor],
        }
        return PurgeStep(metadata=metadata, after_delete=departed)

    def staff_stats(self) -> dict[str, int]:
        return {"total_organizations": Organization.objects.filter(deleted_at__isnull=True).count()}
