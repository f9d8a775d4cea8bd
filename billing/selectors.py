"""Billing reads: the plans of the mirror, subscriptions and invoices as the API and the pages
show them. Nothing here calls Stripe."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from djstripe.models import Invoice, Price, Subscription
from djstripe.utils import convert_tstamp

from accounts.auth.serializers import iso
from accounts.models import User
from billing import entitlements
from billing.entitlements import (
    customer_subscriptions,
    live_subscription,
    subscription_plan,
    subscription_price_id,
    subscription_status,
)
from billing.gateway import billing_enabled
from billing.plans import seat_limit
from organizations.models import Membership, MembershipStatus, Organization


def product_features(product: Any) -> list[str]:
    """The product's `marketing_features` names, else its `features` metadata split on commas."""
    if product is None:
        return []
    data = product.stripe_data or {}
    names = [str(f.get("name") or "").strip() for f in data.get("marketing_features") or []]
    names = [n for n in names if n]
    if names:
        return names
    raw = str((data.get("metadata") or {}).get("features") or "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def plan_list() -> list[dict[str, Any]]:
    """`GET /billing/plans`: active recurring prices of active products, amount ascending."""
    plans = []
    for price in Price.objects.filter(active=True).select_related("product"):
        data = price.stripe_data or {}
        product = entitlements.price_product(price)
        if data.get("type") != "recurring" or product is None or not product.active:
            continue
        recurring = data.get("recurring") or {}
        plans.append(
            {
                "id": price.id,
                "price_id": price.id,
                "name": product.name,
                "description": (product.stripe_data or {}).get("description") or "",
                "amount": int(data.get("unit_amount") or 0),
                "currency": str(data.get("currency") or "usd"),
                "interval": recurring.get("interval") or "month",
                "features": product_features(product),
                "plan": entitlements.plan_of_price(price).value,
            }
        )
    plans.sort(key=lambda p: (p["amount"], p["name"]))
    return plans


def billing_config() -> dict[str, Any]:
    return {"publishable_key": settings.STRIPE_PUBLISHABLE_KEY, "enabled": billing_enabled()}


def subscription_data(
    subscription: Subscription, *, user_id: int | None, organization_id: int | None
) -> dict[str, Any]:
    """The contract's Subscription object (§5.1)."""
    data = subscription.stripe_data or {}
    metadata = data.get("metadata") or {}
    owner = str(metadata.get("keel_user_id") or "")
    canceled_at = data.get("canceled_at")
    return {
        "id": subscription.djstripe_id,
        "user_id": user_id if user_id is not None else (int(owner) if owner.isdigit() else None),
        "organization_id": organization_id,
        "stripe_subscription_id": subscription.id,
        "stripe_price_id": subscription_price_id(subscription),
        "plan": subscription_plan(subscription).value,
        "status": subscription_status(subscription),
        "current_period_start": iso(subscription.current_period_start),
        "current_period_end": iso(subscription.current_period_end),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
        "canceled_at": iso(convert_tstamp(canceled_at)) if canceled_at else None,
        "created_at": iso(subscription.created or subscription.djstripe_created),
        "updated_at": iso(subscription.djstripe_updated),
    }


def user_subscription(user: User) -> Subscription | None:
    """Live first, else the latest (`GET /billing/subscription`)."""
    subscriptions = customer_subscriptions(entitlements.user_customer_id(user))
    return live_subscription(subscriptions) or (subscriptions[0] if subscriptions else None)


def organization_subscription(organization: Organization) -> Subscription | None:
    subscriptions = customer_subscriptions(organization.stripe_customer_id)
    return live_subscription(subscriptions) or (subscriptions[0] if subscriptions else None)


def organization_billing(organization: Organization) -> dict[str, Any]:
    """OrgBilling (contract §4.1): local data only, so it answers with billing off too."""
    subscriptions = customer_subscriptions(organization.stripe_customer_id)
    live = live_subscription(subscriptions)
    shown = live or (subscriptions[0] if subscriptions else None)
    return {
        "plan": organization.plan,
        "has_subscription": live is not None,
        "subscription": (
            subscription_data(shown, user_id=None, organization_id=organization.pk)
            if shown is not None
            else None
        ),
        "seat_limit": seat_limit(organization.plan),
        "seat_count": Membership.objects.filter(
            organization=organization, status=MembershipStatus.ACTIVE
        ).count(),
        "stripe_customer_id": organization.stripe_customer_id or None,
    }


def invoice_list(customer_id: str | None, limit: int = 24) -> list[dict[str, Any]]:
    """A customer's invoices, newest first, for the billing pages and the GDPR export."""
    if not customer_id:
        return []
    rows = Invoice.objects.filter(customer_id=customer_id).order_by("-created")[:limit]
    return [_invoice_data(invoice) for invoice in rows]


def _invoice_data(invoice: Invoice) -> dict[str, Any]:
    data = invoice.stripe_data or {}
    return {
        "id": invoice.id,
        "number": data.get("number") or "",
        "status": data.get("status") or "",
        "amount_due": int(data.get("amount_due") or 0),
        "amount_paid": int(data.get("amount_paid") or 0),
        "currency": data.get("currency") or "usd",
        "hosted_invoice_url": data.get("hosted_invoice_url") or "",
        "created_at": iso(invoice.created),
    }
