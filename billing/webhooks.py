"""`POST /webhooks/stripe` (contract §5.3): verify, record once, mirror, apply.

1. The `Stripe-Signature` header is checked against every secret of `STRIPE_WEBHOOK_SECRET`
   (rotation) with a 300 s tolerance before anything is read or stored (400 otherwise).
2. The event is recorded in dj-stripe's `Event` table and processed in the same transaction.
   Its unique id makes a duplicate delivery, also a concurrent one, a no-op: the second insert
   waits for the first transaction and then fails, and the delivery answers "Duplicate event
   ignored". A processing failure rolls everything back (the event too) and answers 500, so
   Stripe retries.
3. dj-stripe's handlers re-read the object from Stripe into the mirror, so an event delivered
   late, twice or out of order still leaves Stripe's current state. An object Stripe no longer
   has (404) is skipped and the event acknowledged; any other Stripe failure answers 500.
4. Keel's rules (billing.services.subscriber_apply) compare the customer's subscriptions before
   and after, and act only on a real change.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from djstripe._stripe_errors import object_is_absent
from djstripe.models import Customer, Event, Invoice, Subscription

from billing import services
from billing.errors import BillingDisabled, StripeUnavailable
from billing.gateway import billing_enabled, stripe_configure
from billing.plans import LIVE_STATUSES
from config import metrics
from config.errors import BadRequest, DomainError
from organizations.services import organization_billing_set

logger = logging.getLogger("keel.billing.webhooks")


class WebhookProcessingFailed(DomainError):
    """Stripe could not be read while processing an event: 500, so that Stripe retries."""

    status = 500
    code = "INTERNAL_ERROR"
    default_message = "The event could not be processed; it will be retried"


def _verified(payload: bytes, header: str) -> dict[str, Any]:
    secrets = [s for s in settings.STRIPE_WEBHOOK_SECRETS if s]
    if not billing_enabled() or not secrets:
        raise BillingDisabled()
    text = payload.decode("utf-8", errors="replace")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                text, header, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
            )
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise BadRequest("Invalid Stripe-Signature header")
    try:
        data = json.loads(text)
    except ValueError:
        raise BadRequest("Invalid webhook payload") from None
    valid = (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and isinstance(data.get("type"), str)
        and isinstance(data.get("data"), dict)
        and isinstance(data["data"].get("object"), dict)
    )
    if not valid:
        raise BadRequest("Invalid webhook payload")
    return data


def _customer_id(obj: dict[str, Any]) -> str | None:
    if obj.get("object") == "customer":
        return str(obj.get("id") or "") or None
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return str(customer) if customer else None


def webhook_receive(*, payload: bytes, signature: str) -> bool:
    """Process one delivery; False when it was a duplicate (nothing done)."""
    data = _verified(payload, signature)
    if stripe.api_base != settings.STRIPE_API_BASE:
        stripe_configure()
    with transaction.atomic():
        if Event.objects.filter(id=data["id"]).exists():
            return False
        try:
            try:
                with transaction.atomic():
                    # dj-stripe's own `Event.process` does this too, but cannot say whether
                    # this delivery was the one that recorded the event. Its create returns a
                    # row that another delivery committed since the check above (it reads
                    # before it inserts, after a call to Stripe): only our own INSERT decides.
                    event = Event._create_from_stripe_object(
                        data, save=False, api_key=settings.STRIPE_SECRET_KEY
                    )
                    if not event._state.adding:
                        return False
                    event.save(force_insert=True)
            except IntegrityError:
                return False
            _process(event, data["data"]["object"])
        except (StripeUnavailable, stripe.StripeError) as error:
            # Stripe failed us while re-reading: roll everything back (the event too) and
            # answer 500, so that Stripe delivers it again (not 502: the sender is Stripe).
            logger.warning(
                "stripe event not processed; Stripe will retry",
                extra={"event": data["id"], "type": data["type"], "error": str(error)},
            )
            raise WebhookProcessingFailed() from error
    _active_subscriptions_gauge()
    return True


def _active_subscriptions_gauge() -> None:
    """`keel_active_subscriptions` (contract §1): live subscriptions, after each event."""
    live = Subscription.objects.filter(stripe_data__status__in=LIVE_STATUSES).count()
    metrics.ACTIVE_SUBSCRIPTIONS.set(live)


def _process(event: Event, obj: dict[str, Any]) -> None:
    customer_id = _customer_id(obj)
    if customer_id:
        # One event of a customer at a time (Stripe sends several at once, e.g. an invoice's
        # and its subscription's): each compares against the state the previous one left, so
        # a change is announced once.
        list(Customer.objects.select_for_update().filter(id=customer_id).values_list("pk"))
    before = services.customer_snapshot(customer_id) if customer_id else {}
    if event.type == "checkout.session.completed":
        _checkout_link(obj)
    _invoke_handlers(event)
    _extra_sync(event.type, obj)
    if customer_id:
        changed = services.subscriber_apply(
            customer_id=customer_id, before=before, source=f"webhook:{event.type}"
        )
        if changed:
            logger.info("stripe event applied", extra={"event": event.id, "changes": changed})
    _side_effects(event.type, obj, customer_id)


def _invoke_handlers(event: Event) -> None:
    """dj-stripe's handlers re-read the object into the mirror. An object Stripe no longer has
    (404 `resource_missing`, also for the customer dj-stripe reads first) leaves nothing to
    mirror: the event is acknowledged instead of failing until Stripe gives up."""
    try:
        with transaction.atomic():
            event.invoke_webhook_handlers()
    except stripe.InvalidRequestError as error:
        if not object_is_absent(error):
            raise
        logger.warning(
            "stripe event skipped: its object no longer exists at Stripe",
            extra={"event": event.id, "type": event.type, "error": str(error)},
        )


def _checkout_link(session: dict[str, Any]) -> None:
    """`checkout.session.completed`: tie the session's customer to the user or organization in
    `client_reference_id` (or `metadata.keel_subscriber`) when it is not tied yet."""
    customer_id = _customer_id(session)
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get(
        "keel_subscriber", ""
    )
    subscriber = services.subscriber_from_reference(str(reference or ""))
    if not customer_id or subscriber is None:
        return
    if services.subscriber_for_customer(customer_id) is not None:
        return
    if subscriber.organization is not None:
        if not subscriber.organization.stripe_customer_id:
            organization_billing_set(
                organization=subscriber.organization,
                stripe_customer_id=customer_id,
                source="webhook:checkout.session.completed",
            )
    elif subscriber.user is not None:
        services.customer_link_user(customer_id=customer_id, user=subscriber.user)


def _extra_sync(event_type: str, obj: dict[str, Any]) -> None:
    """Events whose object is not the subscription but changes it: re-read the subscription."""
    if (event_type.startswith("invoice.") and obj.get("subscription")) or (
        event_type == "checkout.session.completed" and obj.get("subscription")
    ):
        services.subscription_sync(str(obj["subscription"]))


def _side_effects(event_type: str, obj: dict[str, Any], customer_id: str | None) -> None:
    if event_type.startswith("invoice.") and customer_id:
        services.invoices_changed(customer_id=customer_id, event_type=event_type)
    if event_type == "invoice.payment_failed" and customer_id:
        invoice = Invoice.objects.filter(id=obj.get("id")).first()
        if invoice is not None:
            services.payment_failed_notify(customer_id=customer_id, invoice=invoice)
    elif event_type == "customer.subscription.trial_will_end":
        subscription = Subscription.objects.filter(id=obj.get("id")).first()
        if subscription is not None:
            services.trial_ending_notify(subscription=subscription)
