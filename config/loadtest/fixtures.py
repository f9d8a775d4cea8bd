"""The data `make loadtest` measures against, in the database of DATABASE_URL (idempotent):
an owner who belongs to one organization, `loadtest`, of MEMBERS members (enterprise plan, so
no seat limit), and access tokens minted through Keel's own session service."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.auth.sessions import RequestMeta, session_create
from accounts.models import User
from organizations.models import Membership, Organization, OrgRole, Plan

ORG_SLUG = "loadtest"
OWNER_EMAIL = "owner@loadtest.keel"
MEMBERS = 1000
META = RequestMeta(ip="127.0.0.1", user_agent="keel-loadtest")


@dataclass(frozen=True)
class Cast:
    owner: User
    organization: Organization
    member_ids: list[int]  # everyone but the owner, by id


def cast_ensure() -> Cast:
    """Create what is missing; the passwords are unusable (sign-in is by minted tokens)."""
    with transaction.atomic():
        owner, _ = User.objects.get_or_create(
            email=OWNER_EMAIL,
            defaults={
                "name": "Load Owner",
                "email_verified": True,
                "password": make_password(None),
            },
        )
        organization, _ = Organization.objects.get_or_create(
            slug=ORG_SLUG, defaults={"name": "Load Test", "plan": Plan.ENTERPRISE}
        )
        now = timezone.now()
        Membership.objects.get_or_create(
            organization=organization,
            user=owner,
            defaults={"role": OrgRole.OWNER, "joined_at": now},
        )
        emails = [f"member{n:04d}@loadtest.keel" for n in range(1, MEMBERS)]
        existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
        unusable = make_password(None)
        User.objects.bulk_create(
            User(email=email, name=f"Member {email[6:10]}", email_verified=True, password=unusable)
            for email in emails
            if email not in existing
        )
        member_ids = list(
            User.objects.filter(email__in=emails).order_by("pk").values_list("pk", flat=True)
        )
        joined = set(
            Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
        )
        Membership.objects.bulk_create(
            Membership(organization=organization, user_id=pk, role=OrgRole.MEMBER, joined_at=now)
            for pk in member_ids
            if pk not in joined
        )
    return Cast(owner=owner, organization=organization, member_ids=member_ids)


def access_token(user_id: int) -> str:
    """A fresh access token of a new session (the contract's 15 minutes by default)."""
    user = User.objects.get(pk=user_id)
    return session_create(user=user, meta=META, method="password").access.token


def organization_customer_set(customer_id: str) -> None:
    """Tie the load-test organization to a Stripe customer of the fake (the webhook row)."""
    Organization.objects.filter(slug=ORG_SLUG).update(
        stripe_customer_id=customer_id, stripe_subscription_id=""
    )
