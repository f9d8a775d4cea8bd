"""What the billing pages show (billing.views): the selectors' data shaped for templates —
dates as datetimes, amounts as money, plans with their labels and seats. Nothing here calls
Stripe; everything reads the local mirror, so the pages render with billing off too."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Subquery
from django.utils.dateparse import parse_datetime
from djstripe.models import Customer, Subscription

from billing import entitlements, selectors
from billing.gateway import billing_enabled
from billing.plans import CATALOGUE, LIVE_STATUSES, plan_spec
from organizations.models import Membership, MembershipStatus, Organization, OrgRole, Plan

if TYPE_CHECKING:
    from accounts.models import User

STATUS_LABELS = {
    "active": "Active",
    "trialing": "Trial",
    "past_due": "Payment failed",
    "canceled": "Canceled",
    "unpaid": "Unpaid",
    "incomplete": "Incomplete",
    "incomplete_expired": "Expired",
    "paused": "Paused",
}
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}


def plan_label(plan: str) -> str:
    try:
        return str(Plan(plan).label)
    except ValueError:
        return plan.capitalize()


def money(cents: int, currency: str) -> str:
    amount = f"{cents / 100:,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    return f"{symbol}{amount}" if symbol else f"{amount} {currency.upper()}"


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


# --- Subscriptions and invoices -------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionView:
    plan: str
    plan_label: str
    status: str
    status_label: str
    live: bool
    cancel_at_period_end: bool
    current_period_end: datetime | None
    canceled_at: datetime | None

    @property
    def past_due(self) -> bool:
        return self.status == "past_due"


def subscription_view(data: dict[str, Any] | None) -> SubscriptionView | None:
    """selectors.subscription_data(...) → what the page shows."""
    if data is None:
        return None
    status = str(data.get("status") or "")
    plan = str(data.get("plan") or Plan.FREE)
    return SubscriptionView(
        plan=plan,
        plan_label=plan_label(plan),
        status=status,
        status_label=STATUS_LABELS.get(status, status.replace("_", " ").capitalize()),
        live=status in LIVE_STATUSES,
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        current_period_end=_when(data.get("current_period_end")),
        canceled_at=_when(data.get("canceled_at")),
    )


@dataclass(frozen=True)
class InvoiceView:
    id: str
    number: str
    status: str
    amount: str
    created_at: datetime | None
    url: str


def invoices(customer_id: str | None) -> list[InvoiceView]:
    return [
        InvoiceView(
            id=row["id"],
            number=row["number"] or row["id"],
            status=row["status"],
            amount=money(row["amount_paid"] or row["amount_due"], row["currency"]),
            created_at=_when(row["created_at"]),
            url=row["hosted_invoice_url"],
        )
        for row in selectors.invoice_list(customer_id)
    ]


# --- Plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgChoice:
    """An organization the user owns, as a pricing card offers it."""

    name: str
    slug: str
    plan: str
    subscribed: bool  # a live Stripe subscription: changes go through the portal


@dataclass
class PlanCard:
    plan: str
    name: str
    price_id: str | None  # None: the free plan (nothing to buy)
    price: str
    interval: str
    description: str
    features: list[str]
    seat_limit: int  # 0 = unlimited
    orgs: list[OrgChoice] = field(default_factory=list)

    @property
    def mentions_seats(self) -> bool:
        """Whether the product's own features already say how many seats it has."""
        return any("seat" in feature.lower() for feature in self.features)


def plan_cards() -> list[PlanCard]:
    """The free plan, then the mirror's active recurring prices (selectors.plan_list)."""
    free = CATALOGUE[Plan.FREE]
    cards = [
        PlanCard(
            plan=Plan.FREE.value,
            name=free.label,
            price_id=None,
            price=money(0, "usd"),
            interval="month",
            description="For trying Keel out and small teams.",
            features=[],
            seat_limit=free.seat_limit,
        )
    ]
    for row in selectors.plan_list():
        cards.append(
            PlanCard(
                plan=row["plan"],
                name=row["name"],
                price_id=row["price_id"],
                price=money(row["amount"], row["currency"]),
                interval=row["interval"],
                description=row["description"],
                features=row["features"],
                seat_limit=plan_spec(row["plan"]).seat_limit,
            )
        )
    return cards


def owned_organizations(user: User) -> list[OrgChoice]:
    """The live organizations `user` owns (an owner alone may subscribe one)."""
    rows = (
        Membership.objects.filter(
            user=user,
            status=MembershipStatus.ACTIVE,
            role=OrgRole.OWNER,
            organization__deleted_at__isnull=True,
        )
        .select_related("organization")
        .order_by("organization__name")
    )
    return [
        OrgChoice(
            name=m.organization.name,
            slug=m.organization.slug,
            plan=m.organization.plan,
            subscribed=bool(m.organization.stripe_subscription_id),
        )
        for m in rows
    ]


# --- Page contexts --------------------------------------------------------------------------------


def personal_billing(user: User) -> dict[str, Any]:
    """`/billing` and `/pricing`: the user's plan, subscription and invoices."""
    entitlement = entitlements.user_entitlement(user)
    shown = selectors.user_subscription(user)
    subscription = subscription_view(
        selectors.subscription_data(shown, user_id=user.pk, organization_id=None)
        if shown is not None
        else None
    )
    customer_id = entitlements.user_customer_id(user)
    return {
        "plan": entitlement.plan,
        "plan_label": plan_label(entitlement.plan),
        "subscribed": entitlement.subscription is not None,
        "subscription": subscription,
        "has_customer": bool(customer_id),
        "invoices": invoices(customer_id),
        "billing_enabled": billing_enabled(),
    }


def organization_billing(organization: Organization) -> dict[str, Any]:
    """`/org/<slug>/billing`: selectors.organization_billing, shaped for the page."""
    data = selectors.organization_billing(organization)
    return {
        "plan": data["plan"],
        "plan_label": plan_label(data["plan"]),
        "subscribed": data["has_subscription"],
        "subscription": subscription_view(data["subscription"]),
        "seat_limit": data["seat_limit"],
        "seat_count": data["seat_count"],
        "has_customer": bool(data["stripe_customer_id"]),
        "invoices": invoices(data["stripe_customer_id"]),
        "billing_enabled": billing_enabled(),
    }


# --- The payment-failed banner --------------------------------------------------------------------


def _past_due(statuses: list[Any]) -> bool:
    """The subscription that grants the plan (entitlements.live_subscription: active, then
    trialing, then past_due) is past due."""
    found = {str(s or "") for s in statuses}
    return "past_due" in found and not found & {"active", "trialing"}


def personal_past_due(user_id: int) -> bool:
    """One query: the statuses of the subscriptions of the user's (newest) customer."""
    customer = (
        Customer.objects.filter(subscriber_id=user_id, date_purged__isnull=True)
        .order_by("-created")
        .values("id")[:1]
    )
    statuses = Subscription.objects.filter(customer_id=Subquery(customer)).values_list(
        "stripe_data__status", flat=True
    )
    return _past_due(list(statuses))


def organization_past_due(slug: str, user_id: int) -> tuple[bool, str | None]:
    """One query: whether the org `slug`, of which `user_id` is an active member, is past due,
    and the user's role in it."""
    organization = Organization.objects.filter(
        slug=slug,
        deleted_at__isnull=True,
        memberships__user_id=user_id,
        memberships__status=MembershipStatus.ACTIVE,
    ).values("stripe_customer_id")[:1]
    role = Membership.objects.filter(
        organization__slug=slug,
        organization__stripe_customer_id=OuterRef("customer_id"),
        user_id=user_id,
        status=MembershipStatus.ACTIVE,
    ).values("role")[:1]
    rows = list(
        Subscription.objects.filter(customer_id=Subquery(organization))
        .annotate(member_role=Subquery(role))
        .values_list("stripe_data__status", "member_role")
    )
    if not rows:
        return False, None
    return _past_due([status for status, _ in rows]), rows[0][1]
