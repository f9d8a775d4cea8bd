"""Billing writes (contract §5, §4.2): Stripe customers, checkout and portal sessions, and the
rules that turn Stripe's subscription state into Keel's (plan, role, seats), with their audit
entries, real-time events, notifications and emails, only on a real change.

Every Stripe call goes through `billing.gateway.stripe_call` (502 on Stripe errors, 503 with
billing off); every mirror write goes through dj-stripe's `sync_from_stripe_data`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from djstripe.models import Customer, Invoice, Price, Product, Subscription

from accounts.models import User
from accounts.staff.services import user_subscription_role_sync
from billing import entitlements
from billing.entitlements import (
    customer_subscriptions,
    live_subscription,
    subscription_plan,
    subscription_price_id,
    subscription_quantity,
    subscription_snapshot,
    subscription_status,
)
from billing.errors import StripeUnavailable
from billing.gateway import require_billing, stripe_call, stripe_errors
from billing.plans import LIVE_STATUSES, is_per_seat, trial_days
from config import realtime
from config.errors import BadRequest, Conflict, NotFound, ValidationFailed
from config.jobs import enqueue
from organizations.models import Membership, MembershipStatus, Organization, OrgRole, Plan
from organizations.services import organization_billing_set
from security.services import audit_record

logger = logging.getLogger("keel.billing")

Snapshot = dict[str, tuple[Any, ...]]


def _mirror(model: Any, data: Any) -> Any:
    """dj-stripe's sync of a Stripe object into the mirror (it may call Stripe itself: 502)."""
    with stripe_errors():
        return model.sync_from_stripe_data(data, api_key=settings.STRIPE_SECRET_KEY)


# --- Subscribers and customers --------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    """Who pays: a user (personal plan) or an organization (org plan)."""

    user: User | None = None
    organization: Organization | None = None

    @property
    def reference(self) -> str:
        if self.organization is not None:
            return f"org:{self.organization.pk}"
        assert self.user is not None
        return f"user:{self.user.pk}"

    @property
    def customer_id(self) -> str | None:
        if self.organization is not None:
            return self.organization.stripe_customer_id or None
        assert self.user is not None
        return entitlements.user_customer_id(self.user)


def subscriber_for_customer(customer_id: str) -> Subscriber | None:
    """The organization first, then the user, a Stripe customer belongs to (contract §5.3)."""
    organization = Organization.objects.filter(
        stripe_customer_id=customer_id, deleted_at__isnull=True
    ).first()
    if organization is not None:
        return Subscriber(organization=organization)
    user_id = (
        Customer.objects.filter(id=customer_id).values_list("subscriber_id", flat=True).first()
    )
    user = User.objects.alive().filter(pk=user_id).first() if user_id else None
    return Subscriber(user=user) if user is not None else None


def subscriber_from_reference(reference: str) -> Subscriber | None:
    """`user:<id>` / `org:<id>` (a checkout session's `client_reference_id`) → the subscriber."""
    kind, _, raw = (reference or "").partition(":")
    if not raw.isdigit():
        return None
    if kind == "org":
        organization = Organization.objects.filter(pk=int(raw), deleted_at__isnull=True).first()
        return Subscriber(organization=organization) if organization else None
    if kind == "user":
        user = User.objects.alive().filter(pk=int(raw)).first()
        return Subscriber(user=user) if user else None
    return None


def _customer_create(subscriber: Subscriber, *, acting_user: User) -> str:
    """Create the subscriber's Stripe customer once and store the link (caller holds the lock).

    The request carries an idempotency key made of the subscriber and the parameters: when the
    link could not be stored (the mirror's sync failed, the transaction rolled back), the next
    attempt within Stripe's 24 hours gets the same customer back instead of a second one."""
    metadata = {"keel_subscriber": subscriber.reference, "keel_user_id": str(acting_user.pk)}
    if subscriber.organization is not None:
        organization = subscriber.organization
        params: dict[str, Any] = {
            "email": acting_user.email,
            "name": organization.name,
            "metadata": {**metadata, "keel_organization_slug": organization.slug},
        }
    else:
        assert subscriber.user is not None
        params = {
            "email": subscriber.user.email,
            "name": subscriber.user.name or subscriber.user.email,
            "metadata": {**metadata, "djstripe_subscriber": str(subscriber.user.pk)},
        }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    data = stripe_call(
        stripe.Customer.create,
        idempotency_key=f"keel-customer-{subscriber.reference}-{digest}",
        **params,
    )
    customer = _mirror(Customer, data)
    if subscriber.organization is not None:
        organization_billing_set(
            organization=subscriber.organization, stripe_customer_id=data["id"]
        )
    else:
        Customer.objects.filter(pk=customer.pk).update(subscriber=subscriber.user)
    audit_record(
        actor=acting_user,
        action="billing_customer_create",
        target_type="organization" if subscriber.organization is not None else "user",
        target_id=(subscriber.organization or subscriber.user).pk,  # type: ignore[union-attr]
        metadata={"stripe_customer_id": data["id"]},
    )
    return str(data["id"])


def customer_link_user(*, customer_id: str, user: User) -> bool:
    """Tie a Stripe customer to a user (a checkout started outside Keel's own routes), unless
    the user already has one."""
    if entitlements.user_customer_id(user):
        return False
    if not Customer.objects.filter(id=customer_id).exists():
        data = stripe_call(stripe.Customer.retrieve, customer_id)
        _mirror(Customer, data)
    return bool(
        Customer.objects.filter(id=customer_id, subscriber__isnull=True).update(subscriber=user)
    )


def _locked(subscriber: Subscriber) -> Subscriber:
    """Lock the subscriber's row: one customer is created per subscriber, even when two
    checkouts race."""
    if subscriber.organization is not None:
        organization = (
            Organization.objects.select_for_update()
            .filter(pk=subscriber.organization.pk, deleted_at__isnull=True)
            .first()
        )
        if organization is None:
            raise NotFound("Organization not found")
        return Subscriber(organization=organization)
    assert subscriber.user is not None
    return Subscriber(user=User.objects.select_for_update().get(pk=subscriber.user.pk))


# --- Checkout and portal ----------------------------------------------------------------------


def _active_price(price_id: Any) -> Price:
    if not isinstance(price_id, str) or not price_id.strip():
        raise ValidationFailed.for_field("price_id", "This field is required.")
    price = Price.objects.filter(id=price_id.strip()).select_related("product").first()
    recurring = price is not None and (price.stripe_data.get("type") == "recurring")
    product = entitlements.price_product(price) if price is not None else None
    product_active = product is not None and product.active
    if price is None or not price.active or not recurring or not product_active:
        raise BadRequest("Unknown or inactive price", field="price_id")
    return price


def _with_query(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    # `{CHECKOUT_SESSION_ID}` is Stripe's placeholder: it must reach Stripe unencoded.
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"{url}{joiner}{query}" if query else url


def checkout_session_create(
    *,
    user: User,
    price_id: Any,
    organization: Organization | None = None,
    success_url: str | None = None,
    cancel_url: str | None = None,
) -> dict[str, str]:
    """`POST /billing/checkout` (personal) and `/organizations/{slug}/billing/checkout` (Owner):
    a Checkout session in subscription mode for an active recurring price of the mirror.
    409 while the subscriber has a live subscription; the customer is created once; the plan's
    trial only for a subscriber's first subscription."""
    require_billing()
    price = _active_price(price_id)
    subscriber = Subscriber(user=None if organization else user, organization=organization)
    with transaction.atomic():
        subscriber = _locked(subscriber)
        earlier = customer_subscriptions(subscriber.customer_id)
        if live_subscription(earlier):
            raise Conflict(
                "The organization already has a subscription; manage it in the billing portal"
                if organization
                else "You already have a subscription; manage it in the billing portal"
            )
        customer_id = subscriber.customer_id or _customer_create(subscriber, acting_user=user)
    plan = entitlements.plan_of_price(price)
    quantity = 1
    if organization is not None and is_per_seat(price.id):
        quantity = max(1, _active_member_count(organization.pk))
    metadata = {"keel_subscriber": subscriber.reference, "keel_user_id": str(user.pk)}
    subscription_data: dict[str, Any] = {"metadata": metadata}
    # A trial is for a first subscription: not again after cancelling one.
    if (days := trial_days(plan)) and not earlier:
        subscription_data["trial_period_days"] = days
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer_id,
        "line_items": [{"price": price.id, "quantity": quantity}],
        "success_url": _with_query(
            success_url or settings.STRIPE_SUCCESS_URL, session_id="{CHECKOUT_SESSION_ID}"
        ),
        "cancel_url": cancel_url or settings.STRIPE_CANCEL_URL,
        "client_reference_id": subscriber.reference,
        "metadata": metadata,
        "subscription_data": subscription_data,
    }
    if settings.STRIPE_ALLOW_PROMOTION_CODES:
        params["allow_promotion_codes"] = True
    if settings.STRIPE_AUTOMATIC_TAX:
        params["automatic_tax"] = {"enabled": True}
        params["customer_update"] = {"address": "auto"}
    session = stripe_call(stripe.checkout.Session.create, **params)
    audit_record(
        actor=user,
        action="billing_checkout_start",
        target_type="organization" if organization else "user",
        target_id=(organization or user).pk,
        metadata={"price_id": price.id, "checkout_session_id": session["id"]},
    )
    return {"session_id": str(session["id"]), "url": str(session["url"])}


def portal_session_create(
    *, user: User, organization: Organization | None = None, return_url: str | None = None
) -> dict[str, str]:
    """`POST /billing/portal` and `/organizations/{slug}/billing/portal`: a Stripe customer
    portal session (400 without a customer)."""
    require_billing()
    subscriber = Subscriber(user=None if organization else user, organization=organization)
    customer_id = subscriber.customer_id
    if not customer_id:
        raise BadRequest(
            "The organization has no billing account yet"
            if organization
            else "You have no billing account yet"
        )
    session = stripe_call(
        stripe.billing_portal.Session.create,
        customer=customer_id,
        return_url=return_url or settings.STRIPE_PORTAL_RETURN_URL,
    )
    return {"url": str(session["url"])}


# --- Applying Stripe's state --------------------------------------------------------------------


def customer_snapshot(customer_id: str | None) -> Snapshot:
    return {s.id: subscription_snapshot(s) for s in customer_subscriptions(customer_id)}


def subscription_sync(subscription_id: str) -> Subscription | None:
    """Re-read one subscription from Stripe into the mirror (None: Stripe no longer has it)."""
    try:
        data = stripe_call(stripe.Subscription.retrieve, subscription_id)
    except StripeUnavailable as error:
        cause = error.__cause__
        if isinstance(cause, stripe.InvalidRequestError) and cause.http_status == 404:
            return None
        raise
    return _mirror(Subscription, data)


def customer_subscriptions_fetch(customer_id: str) -> int:
    """Re-read all of a customer's subscriptions from Stripe into the mirror."""
    listed = stripe_call(stripe.Subscription.list, customer=customer_id, status="all", limit=100)
    count = 0
    with stripe_errors():  # further pages are fetched as the loop goes
        pages = list(listed.auto_paging_iter())
    for data in pages:
        _mirror(Subscription, data)
        count += 1
    return count


def _active_member_count(organization_id: int) -> int:
    return Membership.objects.filter(
        organization_id=organization_id, status=MembershipStatus.ACTIVE
    ).count()


def _unix(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def _subscription_payload(
    subscription: Subscription, event: str, message: str, org_slug: str | None
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": event,
        "status": subscription_status(subscription),
        "plan": subscription_plan(subscription).value,
        "price_id": subscription_price_id(subscription),
        "cancel_at_period_end": bool(subscription.stripe_data.get("cancel_at_period_end")),
        "current_period_end": _unix(subscription.current_period_end),
        "message": message,
        "timestamp": _unix(subscription.djstripe_updated),
    }
    if org_slug:
        payload["org_slug"] = org_slug
    return payload


def _publish(subscriber: Subscriber, event_type: str, payload: dict[str, Any]) -> None:
    if subscriber.organization is not None:
        realtime.publish_to_org(subscriber.organization.pk, event_type, payload)
    elif subscriber.user is not None:
        realtime.publish_to_user(subscriber.user.pk, event_type, payload)


def _notify(subscriber: Subscriber, *, title: str, message: str, kind: str, owners: bool) -> None:
    """A notification for the subscriber (the org's owners when `owners`, else its members)."""
    payload = {"title": title, "message": message, "type": kind, "data": {"category": "billing"}}
    if subscriber.organization is not None:
        roles = (OrgRole.OWNER,) if owners else None
        realtime.publish_to_users(_member_ids(subscriber.organization.pk, roles), "notification",
                                  payload)  # fmt: skip
    elif subscriber.user is not None:
        realtime.publish_to_user(subscriber.user.pk, "notification", payload)


def _member_ids(organization_id: int, roles: Iterable[str] | None) -> list[int]:
    rows = Membership.objects.filter(
        organization_id=organization_id, status=MembershipStatus.ACTIVE
    )
    if roles is not None:
        rows = rows.filter(role__in=list(roles))
    return list(rows.values_list("user_id", flat=True))


def subscriber_apply(*, customer_id: str, before: Snapshot, source: str) -> list[str]:
    """Apply the mirror's current state for one customer (contract §5.3, §5.4): the org's plan,
    subscription id and seats, or the user's role; `subscription_update` for each subscription
    whose state changed since `before`. Returns what changed (for logs and tests)."""
    subscriber = subscriber_for_customer(customer_id)
    if subscriber is None:
        logger.info("stripe customer not linked to a subscriber", extra={"customer": customer_id})
        return []
    changed: list[str] = []
    after = customer_snapshot(customer_id)
    org_slug = subscriber.organization.slug if subscriber.organization is not None else None
    for subscription in customer_subscriptions(customer_id):
        old, new = before.get(subscription.id), after[subscription.id]
        if old == new:
            continue
        status = new[0]
        if old is not None and status == "past_due" and old[0] in ("active", "trialing"):
            # A failed renewal: announced once, as `payment_failed`, by the invoice's event
            # (payment_failed_notify), whichever of the two events arrives first.
            changed.append(f"subscription {subscription.id} past_due")
            continue
        if old is None and status in LIVE_STATUSES:
            event, message = "created", "Subscription started"
        elif status in ("canceled", "incomplete_expired") and (old is None or old[0] != status):
            event, message = "deleted", "Subscription canceled"
        elif old is not None and old[0] == "past_due" and status == "active":
            event, message = "updated", "Payment received"
        else:
            event, message = "updated", "Subscription updated"
        changed.append(f"subscription {subscription.id} {event}")
        _publish(
            subscriber,
            "subscription_update",
            _subscription_payload(subscription, event, message, org_slug),
        )
        if message == "Payment received":
            _notify(
                subscriber,
                title="Payment received",
                message="Your payment went through; your subscription is active again.",
                kind="success",
                owners=True,
            )
    if subscriber.organization is not None:
        changed += _organization_apply(subscriber.organization, source=source)
    elif subscriber.user is not None:
        changed += _user_apply(subscriber.user, source=source)
    return changed


def _organization_apply(organization: Organization, *, source: str) -> list[str]:
    entitlement = entitlements.organization_entitlement(organization)
    live = entitlement.subscription
    plan = entitlement.plan if live is not None else Plan.FREE
    if live is None and not organization.stripe_subscription_id:
        plan = organization.plan  # never subscribed through Stripe: a plan staff set stays
    changes = organization_billing_set(
        organization=organization,
        plan=plan,
        stripe_subscription_id=live.id if live is not None else "",
        source=source,
    )
    return [f"organization {organization.slug} {field}" for field in changes]


def _user_apply(user: User, *, source: str) -> list[str]:
    entitlement = entitlements.user_entitlement(user)
    changed = user_subscription_role_sync(
        user_id=user.pk, live=entitlement.subscription is not None, source=source
    )
    return [f"user {user.pk} role"] if changed else []


def customer_refresh(*, customer_id: str, source: str) -> list[str]:
    """`manage.py billing_resync`: re-read a customer's subscriptions from Stripe and re-apply
    the rules (idempotent: a second run changes nothing)."""
    with transaction.atomic():
        before = customer_snapshot(customer_id)
        customer_subscriptions_fetch(customer_id)
        changed = subscriber_apply(customer_id=customer_id, before=before, source=source)
    if changed:
        audit_record(
            actor=None,
            action="billing_resync",
            target_type="stripe_customer",
            target_id=customer_id,
            metadata={"changes": changed, "source": source},
        )
    return changed


def known_customer_ids() -> list[str]:
    """Every customer linked to a user or an organization (what `--all` re-syncs)."""
    org_ids = Organization.objects.exclude(stripe_customer_id__isnull=True).exclude(
        stripe_customer_id=""
    )
    ids = set(org_ids.values_list("stripe_customer_id", flat=True))
    ids |= set(Customer.objects.filter(subscriber__isnull=False).values_list("id", flat=True))
    return sorted(i for i in ids if i)


# --- The catalogue ------------------------------------------------------------------------------


def catalogue_sync(*, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """`manage.py billing_sync` and the daily job: pull every product and price from Stripe into
    the mirror (idempotent). Objects Stripe no longer lists are left as they are."""
    with stripe_errors():  # further pages are fetched as the lists are read
        products = list(stripe_call(stripe.Product.list, limit=100).auto_paging_iter())
        prices = list(stripe_call(stripe.Price.list, limit=100).auto_paging_iter())
    total, done = len(products) + len(prices), 0
    for product in products:
        _mirror(Product, product)
        done += 1
        if progress:
            progress(done, total)
    for price in prices:
        _mirror(Price, price)
        done += 1
        if progress:
            progress(done, total)
    return {"products": len(products), "prices": len(prices)}


# --- Seats --------------------------------------------------------------------------------------


def seats_sync(*, organization_id: int) -> bool:
    """Per-seat prices: make the org subscription's quantity equal its active member count
    (Stripe prorates). Idempotent; audited when it changes. Returns whether it changed."""
    with transaction.atomic():
        # Serialised per organization (two jobs after two quick membership changes): the count
        # and Stripe's quantity are read and set by one job at a time, so the last word wins.
        organization = (
            Organization.objects.select_for_update()
            .filter(pk=organization_id, deleted_at__isnull=True)
            .first()
        )
        if organization is None or not organization.stripe_customer_id:
            return False
        customer_id = organization.stripe_customer_id
        subscription = live_subscription(customer_subscriptions(customer_id))
        if subscription is None or not is_per_seat(subscription_price_id(subscription)):
            return False
        seats = max(1, _active_member_count(organization_id))
        quantity = subscription_quantity(subscription)
        if quantity == seats:
            return False
        items = (subscription.stripe_data.get("items") or {}).get("data") or []
        data = stripe_call(
            stripe.Subscription.modify,
            subscription.id,
            items=[{"id": items[0]["id"], "quantity": seats}],
            proration_behavior="create_prorations",
        )
        before = customer_snapshot(customer_id)
        _mirror(Subscription, data)
        subscriber_apply(customer_id=customer_id, before=before, source="seats")
        audit_record(
            actor=None,
            action="billing_seats_change",
            target_type="organization",
            target_id=organization.pk,
            changes={"quantity": [quantity, seats]},
            metadata={"stripe_subscription_id": subscription.id},
        )
    return True


# --- Events with their own side effects --------------------------------------------------------


def payment_failed_notify(*, customer_id: str, invoice: Invoice) -> bool:
    """`invoice.payment_failed`: when the invoice is still unpaid, tell the subscriber (WS,
    notification, and the `payment_failed` email to the user or the org's owners)."""
    if invoice.stripe_data.get("status") == "paid" or invoice.stripe_data.get("paid"):
        return False  # a late or replayed delivery: it has been paid since
    subscriber = subscriber_for_customer(customer_id)
    if subscriber is None:
        return False
    message = "Payment failed - please update your payment method"
    subscription_id = invoice.stripe_data.get("subscription")
    subscription = Subscription.objects.filter(id=subscription_id).first()
    org_slug = subscriber.organization.slug if subscriber.organization is not None else None
    payload = (
        _subscription_payload(subscription, "payment_failed", message, org_slug)
        if subscription is not None
        else {"event": "payment_failed", "status": "past_due", "message": message,
              "cancel_at_period_end": False, **({"org_slug": org_slug} if org_slug else {})}
    )  # fmt: skip
    _publish(subscriber, "subscription_update", payload)
    _notify(subscriber, title="Payment failed", message=message, kind="error", owners=True)
    for user_id in _billing_recipients(subscriber):
        enqueue(
            "send_billing_email",
            user_id=user_id,
            template="payment_failed",
            organization_id=subscriber.organization.pk if subscriber.organization else None,
            invoice_id=invoice.id,
        )
    audit_record(
        actor=None,
        action="billing_payment_failed",
        target_type="organization" if subscriber.organization else "user",
        target_id=(subscriber.organization or subscriber.user).pk,  # type: ignore[union-attr]
        metadata={"invoice_id": invoice.id},
    )
    return True


def invoices_changed(*, customer_id: str, event_type: str) -> None:
    """An invoice of the subscriber changed (`invoice.*`): its open pages re-read billing
    (`cache_invalidate` with the `billing` key, to the user or the org's members)."""
    subscriber = subscriber_for_customer(customer_id)
    if subscriber is None:
        return
    payload: dict[str, Any] = {
        "query_keys": ["billing"],
        "event": event_type.replace(".", "_"),
        "timestamp": int(time.time()),
    }
    if subscriber.organization is not None:
        payload["org_slug"] = subscriber.organization.slug
    _publish(subscriber, "cache_invalidate", payload)


def trial_ending_notify(*, subscription: Subscription) -> bool:
    """`customer.subscription.trial_will_end`: remind the subscriber while still trialing."""
    if subscription_status(subscription) != "trialing":
        return False
    subscriber = subscriber_for_customer(str(subscription.customer_id))
    if subscriber is None:
        return False
    _notify(
        subscriber,
        title="Your trial ends soon",
        message="Your free trial ends in a few days. Add a payment method to keep your plan.",
        kind="info",
        owners=True,
    )
    for user_id in _billing_recipients(subscriber):
        enqueue(
            "send_billing_email",
            user_id=user_id,
            template="trial_ending",
            organization_id=subscriber.organization.pk if subscriber.organization else None,
            subscription_id=subscription.id,
        )
    return True


def _billing_recipients(subscriber: Subscriber) -> list[int]:
    if subscriber.organization is not None:
        return _member_ids(subscriber.organization.pk, (OrgRole.OWNER,))
    return [subscriber.user.pk] if subscriber.user is not None else []


# --- Account lifecycle ----------------------------------------------------------------------------


def personal_subscriptions_cancel(*, user: User) -> list[str]:
    """The purge (contract §3.8): cancel the user's live personal subscriptions at Stripe now."""
    customer_id = entitlements.user_customer_id(user)
    cancelled: list[str] = []
    open_statuses = (*LIVE_STATUSES, "unpaid", "incomplete")
    for subscription in customer_subscriptions(customer_id):
        if subscription_status(subscription) not in open_statuses:
            continue
        # Stripe's word first: a purge that was rolled back after cancelling (a later step
        # failed) finds the subscription already cancelled there and does not ask again.
        current = subscription_sync(subscription.id)
        if current is None or subscription_status(current) not in open_statuses:
            continue
        data = stripe_call(stripe.Subscription.cancel, subscription.id)
        _mirror(Subscription, data)
        cancelled.append(subscription.id)
    return cancelled
