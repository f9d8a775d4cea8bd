"""Organization writes (contract §4): tenants, members, roles, ownership, invitations, seats,
API keys. Each audits and publishes `org_update` / `member_update` to the org's members."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import User
from config import realtime
from config.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PaymentRequired,
    ValidationFailed,
)
from organizations.access import OrgActor, membership_cache_clear
from organizations.models import (
    RESERVED_SLUGS,
    Invitation,
    Membership,
    MembershipStatus,
    Organization,
    OrgAPIKey,
    OrgRole,
    Plan,
)
from security.crypto import new_token, token_hash, token_hash_candidates
from security.services import audit_record

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_INPUT_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
INVITATION_LIFETIME = timedelta(days=7)
API_KEY_PREFIX = "keel_"
API_KEY_ALPHABET = string.ascii_letters + string.digits
MAX_ACTIVE_KEYS = 50


class SeatLimitReached(PaymentRequired):
    code = "SEAT_LIMIT_REACHED"


# --- Helpers --------------------------------------------------------------------------------------


@cache
def _seat_limit_of_plan() -> Callable[[str], int]:
    return import_string(settings.ORGANIZATION_SEAT_LIMIT)


def seat_limit(organization: Organization) -> int:
    """Seats of the org's plan (0 = unlimited), from the plan catalogue (billing, through the
    `ORGANIZATION_SEAT_LIMIT` hook)."""
    return _seat_limit_of_plan()(organization.plan)


def _active_members(organization: Organization) -> Any:
    return Membership.objects.filter(organization=organization, status=MembershipStatus.ACTIVE)


def _pending_invitations(organization: Organization) -> Any:
    return Invitation.objects.filter(
        organization=organization,
        accepted_at__isnull=True,
        declined_at__isnull=True,
        cancelled_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def _seat_error(organization: Organization) -> SeatLimitReached:
    plan = Plan(organization.plan)
    return SeatLimitReached(
        f"Seat limit reached for the {plan.value} plan ({seat_limit(organization)} seats). "
        "Upgrade to add members."
    )


def _lock(organization: Organization) -> Organization:
    """Serialise writes that count members or owners (seats, the last owner). A deleted
    organization takes no more writes."""
    locked = (
        Organization.objects.select_for_update()
        .filter(pk=organization.pk, deleted_at__isnull=True)
        .first()
    )
    if locked is None:
        raise NotFound("Organization not found")
    return locked


def _owners(organization: Organization) -> Any:
    return _active_members(organization).filter(role=OrgRole.OWNER)


def _member_event(
    organization: Organization, event: str, *, also: tuple[int, ...] = (), **extra: Any
) -> None:
    realtime.publish_to_org(
        organization.pk,
        "member_update",
        {"org_slug": organization.slug, "event": event, **extra},
        also_user_ids=also,
    )


def _audit(actor: OrgActor | User | None, action: str, target: Any, **kwargs: Any) -> None:
    user = actor.user if isinstance(actor, OrgActor) else actor
    metadata = dict(kwargs.pop("metadata", {}) or {})
    if isinstance(actor, OrgActor):
        metadata.update(actor.audit_metadata)
        metadata.setdefault("organization_id", actor.organization.pk)
    audit_record(
        actor=user,
        action=action,
        target_type=target._meta.model_name,
        target_id=target.pk,
        metadata=metadata or None,
        **kwargs,
    )


def slug_validate(slug: str) -> str:
    """2–63 ASCII letters, digits and single inner hyphens, stored lowercased; not reserved.
    Checked before lowercasing (`"\u212a".lower()` is an ASCII `k`)."""
    slug = slug or ""
    if not (2 <= len(slug) <= 63) or not SLUG_INPUT_RE.fullmatch(slug):
        raise ValidationFailed.for_field(
            "slug",
            "Use 2–63 lowercase letters, digits and single hyphens (not at the ends)",
        )
    slug = slug.lower()
    if slug in RESERVED_SLUGS:
        raise ValidationFailed.for_field("slug", f"'{slug}' is reserved", code="reserved")
    return slug


# --- Organizations --------------------------------------------------------------------------------


def organization_create(*, user: User, name: str, slug: str) -> Organization:
    """A new (free) organization with its creator as owner, in one transaction."""
    name = (name or "").strip()
    if not (2 <= len(name) <= 100):
        raise ValidationFailed.for_field("name", "Name must be 2–100 characters")
    slug = slug_validate(slug)
    try:
        with transaction.atomic():
            if Organization.objects.filter(slug=slug, deleted_at__isnull=True).exists():
                raise Conflict("This slug is already taken", field="slug")
            organization = Organization.objects.create(name=name, slug=slug, created_by=user)
            Membership.objects.create(
                organization=organization,
                user=user,
                role=OrgRole.OWNER,
                joined_at=timezone.now(),
                last_selected_at=timezone.now(),
            )
            membership_cache_clear(organization.pk, user.pk)
            _audit(user, "organization_create", organization, changes={"slug": slug})
            realtime.publish_to_user(user.pk, "cache_invalidate", {"query_keys": ["organizations"]})
    except IntegrityError:
        raise Conflict("This slug is already taken", field="slug") from None
    return organization


def organization_update(*, actor: OrgActor, name: str) -> Organization:
    name = (name or "").strip()
    if not (2 <= len(name) <= 100):
        raise ValidationFailed.for_field("name", "Name must be 2–100 characters")
    organization = actor.organization
    with transaction.atomic():
        organization = _lock(organization)
        if organization.name == name:
            return organization
        old = organization.name
        organization.name = name
        organization.save(update_fields=["name", "updated_at"])
        _audit(actor, "organization_update", organization, changes={"name": [old, name]})
        realtime.publish_to_org(
            organization.pk,
            "org_update",
            {"org_slug": organization.slug, "event": "settings_changed", "field": "name"},
        )
    return organization


def organization_plan_set(*, organization: Organization, plan: str, actor: User) -> Organization:
    """Staff set an organization's plan (the Django admin). A downgrade to fewer seats than the
    active members is refused. Audited; the members see `org_update{billing_changed}`."""
    try:
        new = Plan(plan)
    except ValueError:
        raise ValidationFailed.for_field("plan", f"Unknown plan: {plan}") from None
    with transaction.atomic():
        organization = _lock(organization)
        if organization.plan == new:
            return organization
        limit = _seat_limit_of_plan()(new)
        members = _active_members(organization).count()
        if limit and members > limit:
            raise BadRequest(
                f"{organization.name} has {members} active members; the {new.value} plan allows "
                f"{limit}. Remove members before changing the plan."
            )
        old = organization.plan
        organization.plan = new
        organization.save(update_fields=["plan", "updated_at"])
        _audit(actor, "organization_plan_change", organization, changes={"plan": [old, new.value]})
        realtime.publish_to_org(
            organization.pk,
            "org_update",
            {"org_slug": organization.slug, "event": "billing_changed", "field": "plan"},
        )
    return organization


def organization_billing_set(
    *,
    organization: Organization,
    plan: str | None = None,
    stripe_subscription_id: str | None = None,
    stripe_customer_id: str | None = None,
    source: str = "stripe",
) -> list[str]:
    """Billing records what Stripe says (contract §5.3): the org's customer, plan and live
    subscription. Only real changes are saved, audited and published (`org_update
    billing_changed` to the members). Returns the fields that changed."""
    with transaction.atomic():
        organization = _lock(organization)
        changes: dict[str, list[Any]] = {}
        for field, value in (
            ("plan", plan),
            ("stripe_subscription_id", stripe_subscription_id),
            ("stripe_customer_id", stripe_customer_id),
        ):
            if value is not None and getattr(organization, field) != value:
                changes[field] = [getattr(organization, field), value]
                setattr(organization, field, value)
        if not changes:
            return []
        organization.save(update_fields=[*changes, "updated_at"])
        audit_record(
            actor=None,
            action="organization_billing_change",
            target_type="organization",
            target_id=organization.pk,
            changes=changes,
            metadata={"source": source},
        )
        if "plan" in changes or "stripe_subscription_id" in changes:
            realtime.publish_to_org(
                organization.pk,
                "org_update",
                {"org_slug": organization.slug, "event": "billing_changed", "field": "plan"},
            )
    return list(changes)


def organization_delete(*, actor: OrgActor) -> None:
    """Soft delete: the slug is freed, invitations cancelled, keys revoked (owner only)."""
    with transaction.atomic():
        organization = _lock(actor.organization)
        if organization.stripe_subscription_id:
            raise Conflict("Cancel the organization's subscription before deleting it")
        now = timezone.now()
        member_ids = list(_active_members(organization).values_list("user_id", flat=True))
        realtime.publish_to_users(
            member_ids, "org_update", {"org_slug": organization.slug, "event": "deleted"}
        )
        organization.deleted_at = now
        organization.save(update_fields=["deleted_at", "updated_at"])
        _pending_invitations(organization).update(cancelled_at=now)
        from organizations.authentication import api_key_cache_clear

        keys = OrgAPIKey.objects.filter(organization=organization, revoked_at__isnull=True)
        digests = list(keys.values_list("key_hash", flat=True))
        keys.update(revoked_at=now)
        for digest in digests:
            api_key_cache_clear(digest)
            transaction.on_commit(partial(api_key_cache_clear, digest))
        for user_id in member_ids:
            membership_cache_clear(organization.pk, user_id)
        _audit(actor, "organization_delete", organization)


def organization_leave(*, actor: OrgActor) -> None:
    user = actor.user
    if user is None:
        raise Forbidden("API keys cannot leave an organization")
    with transaction.atomic():
        organization = _lock(actor.organization)
        membership = _active_members(organization).filter(user=user).first()
        if membership is None:
            raise NotFound("Organization not found")
        if membership.role == OrgRole.OWNER and _owners(organization).count() <= 1:
            raise BadRequest("Transfer ownership first: an organization needs an owner")
        membership.delete()
        membership_cache_clear(organization.pk, user.pk)
        _audit(actor, "member_leave", organization)
        _member_event(
            organization,
            "removed",
            also=(user.pk,),
            user_id=user.pk,
            reason="left",
        )


def ownership_transfer(*, actor: OrgActor, user_id: int) -> Organization:
    """Make another active member the owner; the caller becomes an admin (atomic)."""
    user = actor.user
    if user is None:
        raise Forbidden("API keys cannot transfer ownership")
    with transaction.atomic():
        organization = _lock(actor.organization)
        if user_id == user.pk:
            raise BadRequest("You already own this organization")
        target = (
            _active_members(organization)
            .filter(user_id=user_id, user__is_active=True, user__deleted_at__isnull=True)
            .first()
        )
        if target is None:
            raise NotFound("Member not found")
        mine = _active_members(organization).get(user=user)
        target.role, mine.role = OrgRole.OWNER, OrgRole.ADMIN
        target.save(update_fields=["role", "updated_at"])
        mine.save(update_fields=["role", "updated_at"])
        for uid in (target.user_id, mine.user_id):
            membership_cache_clear(organization.pk, uid)
        _audit(
            actor,
            "ownership_transfer",
            organization,
            changes={"owner": [mine.user_id, target.user_id]},
        )
        _member_event(organization, "role_changed", user_id=target.user_id, role=OrgRole.OWNER)
        _member_event(organization, "role_changed", user_id=mine.user_id, role=OrgRole.ADMIN)
        realtime.publish_to_user(
            target.user_id,
            "notification",
            {
                "title": "You now own an organization",
                "message": f"You are now the owner of {organization.name}.",
                "type": "info",
            },
        )
    return organization


def organization_select(*, user: User, organization: Organization) -> None:
    """Remember the user's current organization (the org switcher)."""
    Membership.objects.filter(organization=organization, user=user).update(
        last_selected_at=timezone.now()
    )


# --- Members --------------------------------------------------------------------------------------


def member_role_change(*, actor: OrgActor, user_id: int, role: str) -> Membership:
    """Rules: own role never; owner grants and changes to/from owner need an owner; an org keeps
    at least one owner."""
    if role not in OrgRole.values:
        raise ValidationFailed.for_field("role", "Role must be owner, admin or member")
    if actor.user is not None and user_id == actor.user.pk:
        raise BadRequest("You cannot change your own role")
    with transaction.atomic():
        organization = _lock(actor.organization)
        membership = _active_members(organization).filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("Member not found")
        if OrgRole.OWNER in (role, membership.role) and not actor.at_least(OrgRole.OWNER):
            raise Forbidden("Only owners can grant or change the owner role")
        if role == OrgRole.OWNER and not (
            membership.user.is_active and membership.user.deleted_at is None
        ):
            raise BadRequest("An inactive account cannot own an organization")
        if membership.role == role:
            return membership
        if membership.role == OrgRole.OWNER and _owners(organization).count() <= 1:
            raise BadRequest("An organization needs at least one owner")
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        membership_cache_clear(organization.pk, user_id)
        _audit(actor, "member_role_change", membership, changes={"role": [old, role]})
        _member_event(organization, "role_changed", user_id=user_id, role=role)
        realtime.publish_to_user(
            user_id,
            "notification",
            {
                "title": "Your role changed",
                "message": f"You are now {role} of {organization.name}.",
                "type": "info",
            },
        )
    return membership


def member_remove(*, actor: OrgActor, user_id: int) -> None:
    if actor.user is not None and user_id == actor.user.pk:
        raise BadRequest("Use leave to remove yourself")
    with transaction.atomic():
        organization = _lock(actor.organization)
        membership = _active_members(organization).filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("Member not found")
        if membership.role == OrgRole.OWNER:
            if not actor.at_least(OrgRole.OWNER):
                raise Forbidden("Only owners can remove an owner")
            if _owners(organization).count() <= 1:
                raise BadRequest("An organization needs at least one owner")
        membership.delete()
        membership_cache_clear(organization.pk, user_id)
        _audit(actor, "member_remove", organization, metadata={"user_id": user_id})
        _member_event(organization, "removed", also=(user_id,), user_id=user_id)


# --- Invitations ----------------------------------------------------------------------------------


def invitation_create(*, actor: OrgActor, email: str, role: str) -> Invitation:
    """Invite an address as admin or member (seats counted with pending invitations); the
    email with the accept link is sent by a job."""
    from organizations import tasks

    email = User.objects.normalize_email(email)
    if role not in (OrgRole.ADMIN, OrgRole.MEMBER):
        raise ValidationFailed.for_field("role", "Invite as admin or member")
    with transaction.atomic():
        organization = _lock(actor.organization)
        if _active_members(organization).filter(user__email__iexact=email).exists():
            raise Conflict("This person is already a member", field="email")
        if _pending_invitations(organization).filter(email__iexact=email).exists():
            raise Conflict("An invitation to this address is pending", field="email")
        # An expired, unanswered invitation no longer blocks a new one.
        Invitation.objects.filter(
            organization=organization,
            email__iexact=email,
            accepted_at__isnull=True,
            declined_at__isnull=True,
            cancelled_at__isnull=True,
        ).update(cancelled_at=timezone.now())
        limit = seat_limit(organization)
        used = _active_members(organization).count() + _pending_invitations(organization).count()
        if limit and used >= limit:
            raise _seat_error(organization)
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            token_hash=token_hash(new_token(32)),  # replaced by the job that emails the link
            invited_by=actor.user,
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        _audit(actor, "invitation_create", invitation, changes={"email": email, "role": role})
        _member_event(organization, "invitation_sent", role=role)
        invitee = User.objects.alive().filter(email__iexact=email).first()
        if invitee is not None:
            realtime.publish_to_user(
                invitee.pk,
                "notification",
                {
                    "title": "Invitation",
                    "message": f"You were invited to join {organization.name}.",
                    "type": "info",
                },
            )
        tasks.send_invitation_email.enqueue(invitation_id=invitation.pk)
    return invitation


def invitation_token_issue(*, invitation: Invitation) -> str:
    """A fresh accept token for the invitation (called by the email job; older links die)."""
    token = new_token(32)
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=token_hash(token))
    return token


def invitation_resend(*, actor: OrgActor, invitation_id: int) -> Invitation:
    from organizations import tasks

    invitation = _pending_invitations(actor.organization).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("Invitation not found")
    with transaction.atomic():
        invitation.expires_at = timezone.now() + INVITATION_LIFETIME
        invitation.save(update_fields=["expires_at"])
        _audit(actor, "invitation_resend", invitation)
        tasks.send_invitation_email.enqueue(invitation_id=invitation.pk)
    return invitation


def invitation_revoke(*, actor: OrgActor, invitation_id: int) -> None:
    with transaction.atomic():
        invitation = (
            _pending_invitations(actor.organization)
            .select_for_update()
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None:
            raise NotFound("Invitation not found")
        invitation.cancelled_at = timezone.now()
        invitation.save(update_fields=["cancelled_at"])
        _audit(actor, "invitation_revoke", invitation)
        _member_event(actor.organization, "invitation_revoked")


def invitation_lookup(*, token: str) -> Invitation:
    """The invitation behind a link (404 unknown); its state is checked by the caller."""
    if not token or len(token) > 200:
        raise NotFound("Invitation not found")
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash__in=token_hash_candidates(token), organization__deleted_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise NotFound("Invitation not found")
    return invitation


def _not_pending(invitation: Invitation) -> DomainError | None:
    state = invitation.state
    if state == "pending":
        return None
    return BadRequest(f"This invitation is {state}")


def invitation_accept(*, token: str, user: User) -> Organization:
    """Join the org with the invited role (the signed-in address must be the invited one)."""
    invitation = invitation_lookup(token=token)
    with transaction.atomic():
        organization = _lock(invitation.organization)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        problem = _not_pending(invitation)
        if problem:
            raise problem
        if User.objects.normalize_email(user.email) != invitation.email.lower():
            raise Forbidden("This invitation was sent to another email address")
        if _active_members(organization).filter(user=user).exists():
            raise Conflict("You are already a member of this organization")
        limit = seat_limit(organization)
        if limit and _active_members(organization).count() >= limit:
            raise _seat_error(organization)
        now = timezone.now()
        Membership.objects.update_or_create(
            organization=organization,
            user=user,
            defaults={
                "role": invitation.role,
                "status": MembershipStatus.ACTIVE,
                "invited_by": invitation.invited_by,
                "joined_at": now,
                "last_selected_at": now,
            },
        )
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
        membership_cache_clear(organization.pk, user.pk)
        _audit(user, "invitation_accept", invitation, metadata={"organization_id": organization.pk})
        # `also`: the new member's sockets join the org's group only once their resync ran.
        _member_event(organization, "added", also=(user.pk,), user_id=user.pk, role=invitation.role)
    return organization


def invitation_decline(*, token: str) -> Invitation:
    invitation = invitation_lookup(token=token)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        problem = _not_pending(invitation)
        if problem:
            raise problem
        invitation.declined_at = timezone.now()
        invitation.save(update_fields=["declined_at"])
        _audit(None, "invitation_decline", invitation)
        _member_event(invitation.organization, "invitation_revoked", reason="declined")
    return invitation


# --- API keys -------------------------------------------------------------------------------------


def api_key_create(
    *, actor: OrgActor, name: str, role: str = OrgRole.MEMBER, expires_at: datetime | None = None
) -> tuple[OrgAPIKey, str]:
    """A new key (`keel_` + 40 base62), returned once; only its hash is stored."""
    name = (name or "").strip()
    if not (1 <= len(name) <= 100):
        raise ValidationFailed.for_field("name", "Name must be 1–100 characters")
    if role not in (OrgRole.ADMIN, OrgRole.MEMBER):
        raise ValidationFailed.for_field("role", "Role must be admin or member")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed.for_field("expires_at", "Must be in the future")
    raw = API_KEY_PREFIX + "".join(secrets.choice(API_KEY_ALPHABET) for _ in range(40))
    with transaction.atomic():
        organization = _lock(actor.organization)
        active = OrgAPIKey.objects.filter(organization=organization, revoked_at__isnull=True)
        if active.count() >= MAX_ACTIVE_KEYS:
            raise BadRequest(f"An organization can have at most {MAX_ACTIVE_KEYS} active keys")
        key = OrgAPIKey.objects.create(
            organization=organization,
            name=name,
            role=role,
            prefix=raw[:12],
            key_hash=token_hash(raw),
            created_by=actor.user,
            expires_at=expires_at,
        )
        _audit(actor, "api_key_create", key, changes={"name": name, "role": role})
    return key, raw


def api_key_revoke(*, actor: OrgActor, key_id: int) -> None:
    from organizations.authentication import api_key_cache_clear

    with transaction.atomic():
        key = (
            OrgAPIKey.objects.select_for_update()
            .filter(pk=key_id, organization=actor.organization, revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise NotFound("API key not found")
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        api_key_cache_clear(key.key_hash)
        transaction.on_commit(lambda: api_key_cache_clear(key.key_hash))
        _audit(actor, "api_key_revoke", key)
