"""The one place that decides what a subscriber is entitled to (contract §5.4, issue 13 item 2).

A user's and an organization's effective plan come from their live subscription in dj-stripe's
mirror (active, trialing, or past_due as grace); without one a user is on free, and an
organization on the plan stored on it (free, unless staff set one by hand for an organization
billed outside Stripe). Seats, usage limits and the personal role all follow from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from djstripe.models import Customer, Price, Product, Subscription

from accounts.models import User
from billing.plans import LIVE_STATUSES, plan_for_price, plan_spec
from organizations.models import Organization, Plan


@dataclass(frozen=True)
class Entitlement:
    plan: str
    subscription: Subscription | None
    seat_limit: int
    usage_limits: dict[str, int] = field(default_factory=dict)

    @property
    def status(self) -> str | None:
        return subscription_status(self.subscription) if self.subscription else None

    @property
    def in_grace(self) -> bool:
        return self.status == "past_due"


def subscription_status(subscription: Subscription) -> str:
    return str(subscription.stripe_data.get("status") or "")


def subscription_price_id(subscription: Subscription) -> str | None:
    items = (subscription.stripe_data.get("items") or {}).get("data") or []
    for item in items:
        price = item.get("price")
        price_id = price.get("id") if isinstance(price, dict) else price
        if price_id:
            return str(price_id)
    return None


def subscription_quantity(subscription: Subscription) -> int:
    items = (subscription.stripe_data.get("items") or {}).get("data") or []
    return int(items[0].get("quantity") or 1) if items else 1


def subscription_plan(subscription: Subscription) -> Plan:
    """The plan a subscription's price buys: the price lists of the settings first, then the
    product's `plan` metadata, else pro with a warning (contract §5.4)."""
    price_id = subscription_price_id(subscription)
    listed = set(settings.STRIPE_PRO_PRICE_IDS) | set(settings.STRIPE_ENTERPRISE_PRICE_IDS)
    if price_id in listed:
        return plan_for_price(price_id)
    return _product_plan(subscription) or plan_for_price(price_id)


def price_product(price: Price) -> Product | None:
    """A mirror price's product (dj-stripe's foreign key is untyped)."""
    return cast("Product | None", price.product)


def plan_of_price(price: Price) -> Plan:
    """The plan a mirror price buys (for the plans list and checkout)."""
    listed = set(settings.STRIPE_PRO_PRICE_IDS) | set(settings.STRIPE_ENTERPRISE_PRICE_IDS)
    if price.id in listed:
        return plan_for_price(price.id)
    product = price_product(price)
    metadata = (product.stripe_data.get("metadata") or {}) if product is not None else {}
    return _metadata_plan(metadata) or plan_for_price(price.id)


def _metadata_plan(metadata: dict[str, Any]) -> Plan | None:
    """A product's `plan` metadata (`pro` / `enterprise`), if it names one."""
    value = str(metadata.get("plan") or "").lower()
    return Plan(value) if value in (Plan.PRO, Plan.ENTERPRISE) else None


def _product_plan(subscription: Subscription) -> Plan | None:
    items = (subscription.stripe_data.get("items") or {}).get("data") or []
    price: Any = items[0].get("price") if items else None
    if not isinstance(price, dict):
        return None
    product = price.get("product")
    metadata: dict[str, Any] = {}
    if isinstance(product, dict):
        metadata = product.get("metadata") or {}
    elif product:
        row = Product.objects.filter(id=product).only("stripe_data").first()
        metadata = (row.stripe_data.get("metadata") or {}) if row else {}
    return _metadata_plan(metadata)


def customer_subscriptions(customer_id: str | None) -> list[Subscription]:
    """A customer's subscriptions in the mirror, newest first."""
    if not customer_id:
        return []
    return list(Subscription.objects.filter(customer_id=customer_id).order_by("-created", "-pk"))


def live_subscription(subscriptions: list[Subscription]) -> Subscription | None:
    """The subscription that grants the plan: active first, then trialing, then past_due."""
    for status in LIVE_STATUSES:
        for subscription in subscriptions:
            if subscription_status(subscription) == status:
                return subscription
    return None


def user_customer_id(user: User) -> str | None:
    return (
        Customer.objects.filter(subscriber_id=user.pk, date_purged__isnull=True)
        .order_by("-created")
        .values_list("id", flat=True)
        .first()
    )


def user_entitlement(user: User) -> Entitlement:
    subscription = live_subscription(customer_subscriptions(user_customer_id(user)))
    plan = subscription_plan(subscription) if subscription else Plan.FREE
    spec = plan_spec(plan)
    return Entitlement(plan, subscription, spec.seat_limit, dict(spec.usage_limits))


def organization_entitlement(organization: Organization) -> Entitlement:
    subscription = live_subscription(customer_subscriptions(organization.stripe_customer_id))
    plan = subscription_plan(subscription) if subscription else organization.plan
    spec = plan_spec(plan)
    return Entitlement(plan, subscription, spec.seat_limit, dict(spec.usage_limits))


def subscription_snapshot(subscription: Subscription) -> tuple[Any, ...]:
    """What a subscriber would notice changing: status, price, cancel flag, period end."""
    return (
        subscription_status(subscription),
        subscription_price_id(subscription),
        bool(subscription.stripe_data.get("cancel_at_period_end")),
        subscription.stripe_data.get("current_period_end"),
        subscription_quantity(subscription),
    )


def usage_plan_limits(
    *, user_id: int | None = None, organization_id: int | None = None
) -> tuple[str, dict[str, int]]:
    """The `USAGE_PLAN_LIMITS` hook: a usage scope's plan and its limits (contract §6.1)."""
    if organization_id is not None:
        organization = Organization.objects.filter(pk=organization_id).first()
        entitlement = organization_entitlement(organization) if organization else None
    else:
        user = User.objects.filter(pk=user_id).first() if user_id is not None else None
        entitlement = user_entitlement(user) if user else None
    if entitlement is None:
        spec = plan_spec(Plan.FREE)
        return spec.plan.value, dict(spec.usage_limits)
    return str(entitlement.plan), dict(entitlement.usage_limits)
