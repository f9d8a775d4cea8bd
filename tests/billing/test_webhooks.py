"""`POST /webhooks/stripe` (contract §5.3) against the Stripe fake: the signature before anything
is stored, every handled event type, duplicates, out-of-order deliveries, the grace period, role
sync, seats following the plan, processing failures and resync. Deliveries are real signed HTTP
requests to Keel's route; dj-stripe re-fetches objects from the fake over HTTP; real-time events
are read from the channel layer and emails from the outbox (jobs run inline after the commit)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from django.core import mail
from djstripe.models import Customer, Event, Invoice, Price, Product, Subscription
from rest_framework.test import APIClient

from accounts.models import Role
from billing.sandbox.fake import signature_header
from billing.services import customer_refresh
from organizations.models import Organization, OrgRole
from organizations.services import seat_limit
from security.models import AuditLog
from tests.factories import MembershipFactory, UserFactory
from tests.stripe_sandbox import WEBHOOK

pytestmark = pytest.mark.django_db

PROCESSED = {"success": True, "message": "Webhook processed"}
DUPLICATE = {"success": True, "message": "Duplicate event ignored"}


# --- helpers ------------------------------------------------------------------------------------


def raw_post(payload: bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return APIClient().post(WEBHOOK, data=payload, content_type="application/json", **headers)


def a_event(sandbox, event_type="customer.created", **obj: Any) -> dict[str, Any]:
    customer = sandbox.fake.dispatch("POST", "/v1/customers", {"email": "x@example.com"})
    return sandbox.event(event_type, {**customer, **obj})


@pytest.fixture
def deliver(sandbox, committed):
    """`deliver(event)`: one signed delivery, then what waits for the commit runs (WS, jobs)."""

    def run(event: dict[str, Any], expect: dict[str, Any] | None = PROCESSED) -> Any:
        response = committed(sandbox.post, event)
        if expect is not None:
            assert response.status_code == 200, (event["type"], response.content)
            assert response.json() == expect, event["type"]
        return response

    return run


@pytest.fixture
def deliver_new(sandbox, committed):
    """Deliver what the fake emitted since the last delivery, in order, each committed."""

    def run() -> list[str]:
        events = sandbox.fake.events[sandbox.delivered :]
        sandbox.delivered = len(sandbox.fake.events)
        for event in events:
            response = committed(sandbox.post, event)
            assert response.status_code == 200, (event["type"], response.content)
        return [e["type"] for e in events]

    return run


def start_checkout(client, sandbox, plan="pro", org=None) -> str:
    url = (
        f"/api/v1/organizations/{org.slug}/billing/checkout" if org else "/api/v1/billing/checkout"
    )
    response = client.post(url, {"price_id": sandbox.prices[plan]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["data"]["session_id"] if org else body["session_id"]


@pytest.fixture
def subscribed(sandbox, as_user, alice, deliver_new, realtime):
    """alice has paid for Pro (personal); the real-time events up to here are read."""
    realtime.listen(users=(alice,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox))
    deliver_new()
    realtime.received(alice)
    mail.outbox.clear()
    return sandbox.fake.objects[Subscription.objects.get().id]


@pytest.fixture
def org_subscribed(sandbox, as_user, alice, bob, acme, deliver_new, realtime):
    """acme has paid for Pro; the real-time events up to here are read."""
    realtime.listen(users=(alice, bob), orgs=(acme,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox, org=acme))
    deliver_new()
    for who in (alice, bob, acme):
        realtime.received(who)
    mail.outbox.clear()
    acme.refresh_from_db()
    return sandbox.fake.objects[acme.stripe_subscription_id]


def set_price(sandbox, subscription: dict[str, Any], plan: str) -> None:
    """Change a subscription's price at the fake (as the portal would)."""
    subscription["items"]["data"][0]["price"] = sandbox.fake.get("price", sandbox.prices[plan])


# --- signatures -----------------------------------------------------------------------------------


def test_a_correctly_signed_event_is_processed(sandbox, deliver):
    event = a_event(sandbox)
    deliver(event)
    assert Event.objects.filter(id=event["id"]).exists()


@pytest.mark.parametrize("case", ["tampered", "missing", "stale", "wrong_secret", "garbage"])
def test_a_bad_signature_is_400_and_nothing_is_stored(sandbox, case):
    event = a_event(sandbox)
    payload = json.dumps(event).encode()
    secret = sandbox.fake.webhook_secret
    signature = {
        "tampered": signature_header(payload + b" ", secret),
        "missing": None,
        "stale": signature_header(payload, secret, timestamp=int(time.time()) - 301),
        "wrong_secret": signature_header(payload, "whsec_not_the_one"),
        "garbage": "t=1,v1=abc",
    }[case]
    if case == "tampered":
        body = payload + b" "
        signature = signature_header(payload, secret)  # signed the original, sent another
    else:
        body = payload
    response = raw_post(body, signature)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "BAD_REQUEST"
    assert not Event.objects.exists()
    assert not Customer.objects.exists()


def test_a_signature_within_the_tolerance_is_accepted(sandbox):
    event = a_event(sandbox)
    payload = json.dumps(event).encode()
    signature = signature_header(payload, sandbox.fake.webhook_secret, int(time.time()) - 290)
    assert raw_post(payload, signature).json() == PROCESSED


def test_any_of_the_rotating_secrets_is_accepted(sandbox, settings):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new_one", sandbox.fake.webhook_secret]
    first = a_event(sandbox)
    assert sandbox.post(first).json() == PROCESSED  # the second secret
    second = a_event(sandbox)
    assert sandbox.post(second, secret="whsec_new_one").json() == PROCESSED  # the first
    third = a_event(sandbox)
    assert sandbox.post(third, secret="whsec_retired").status_code == 400
    assert set(Event.objects.values_list("id", flat=True)) == {first["id"], second["id"]}


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[]", b'{"id": "evt_1"}', b'{"id": 5, "type": "x", "data": {"object": {}}}'],
)
def test_a_signed_but_malformed_payload_is_400(sandbox, payload):
    response = raw_post(payload, signature_header(payload, sandbox.fake.webhook_secret))
    assert response.status_code == 400, response.content
    assert not Event.objects.exists()


def test_webhooks_are_503_with_billing_off(db):
    payload = b'{"id": "evt_1", "type": "customer.created", "data": {"object": {}}}'
    response = raw_post(payload, signature_header(payload, "whsec_x"))
    assert response.status_code == 503
    assert response.json()["error"] == "BILLING_DISABLED"
    assert not Event.objects.exists()


def test_the_webhook_needs_no_csrf_token_or_authentication(sandbox):
    event = a_event(sandbox)
    payload = json.dumps(event).encode()
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature_header(payload, sandbox.fake.webhook_secret),
    )
    assert response.json() == PROCESSED


# --- checkout.session.completed -----------------------------------------------------------------


def test_checkout_completed_links_a_customer_created_at_checkout_to_the_user(
    sandbox, alice, deliver_new, realtime
):
    """A session started without a customer (as from a payment link): Stripe makes the
    customer; `client_reference_id` ties it to the user."""
    realtime.listen(users=(alice,))
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer_email=alice.email,
        client_reference_id=f"user:{alice.pk}",
        line_items=[{"price": sandbox.prices["pro"], "quantity": 1}],
        success_url="https://keel.example/ok",
    )
    sandbox.fake.checkout_pay(session.id)
    types = deliver_new()
    assert types == ["checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    customer = Customer.objects.get(subscriber=alice)
    assert customer.id == sandbox.fake.objects[session.id]["customer"]
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    updates = realtime.received(alice, "subscription_update")
    assert [(u["event"], u["status"], u["plan"]) for u in updates] == [("created", "active", "pro")]


def test_checkout_completed_links_the_customer_to_the_org_from_metadata(sandbox, acme, deliver_new):
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer_email="billing@acme.example",
        metadata={"keel_subscriber": f"org:{acme.pk}"},
        line_items=[{"price": sandbox.prices["enterprise"], "quantity": 1}],
        success_url="https://keel.example/ok",
    )
    sandbox.fake.checkout_pay(session.id)
    deliver_new()
    acme.refresh_from_db()
    assert acme.stripe_customer_id == sandbox.fake.objects[session.id]["customer"]
    assert acme.plan == "enterprise" and seat_limit(acme) == 0


def test_checkout_completed_never_moves_a_customer_already_linked(
    sandbox, as_user, alice, charlie, deliver_new
):
    session_id = start_checkout(as_user(alice), sandbox)
    sandbox.fake.objects[session_id]["client_reference_id"] = f"user:{charlie.pk}"  # forged
    sandbox.fake.checkout_pay(session_id)
    deliver_new()
    assert Customer.objects.get(id=sandbox.fake.objects[session_id]["customer"]).subscriber == alice
    charlie.refresh_from_db()
    assert charlie.role == Role.USER


# --- subscription created / updated / deleted ------------------------------------------------------


def test_a_personal_subscription_lifecycle(sandbox, as_user, alice, deliver_new, realtime):
    realtime.listen(users=(alice,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox))
    deliver_new()
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    events = realtime.received(alice)
    assert [e["type"] for e in events].count("subscription_update") == 1
    created = next(e["payload"] for e in events if e["type"] == "subscription_update")
    assert created["event"] == "created" and created["message"] == "Subscription started"
    assert created["cancelAtPeriodEnd"] is False
    assert created["priceId"] == sandbox.prices["pro"]
    assert isinstance(created["currentPeriodEnd"], int) and isinstance(created["timestamp"], int)
    assert {"field": "role", "value": "premium"} in [
        e["payload"] for e in events if e["type"] == "user_update"
    ]
    role_audit = AuditLog.objects.get(action="role_change", target_id=str(alice.pk))
    assert role_audit.changes == {"role": ["user", "premium"]}

    subscription_id = Subscription.objects.get().id
    stripe.Subscription.modify(subscription_id, cancel_at_period_end=True)
    assert deliver_new() == ["customer.subscription.updated"]
    events = realtime.received(alice)
    assert [e["type"] for e in events] == ["subscription_update"]  # no role change
    assert events[0]["payload"]["event"] == "updated"
    assert events[0]["payload"]["cancelAtPeriodEnd"] is True
    assert as_user(alice).get("/api/v1/billing/subscription").json()["cancel_at_period_end"]

    stripe.Subscription.cancel(subscription_id)
    assert deliver_new() == ["customer.subscription.deleted"]
    alice.refresh_from_db()
    assert alice.role == Role.USER
    events = realtime.received(alice)
    deleted = [e["payload"] for e in events if e["type"] == "subscription_update"]
    assert [(d["event"], d["status"], d["message"]) for d in deleted] == [
        ("deleted", "canceled", "Subscription canceled")
    ]
    assert {"field": "role", "value": "user"} in [
        e["payload"] for e in events if e["type"] == "user_update"
    ]
    assert Subscription.objects.get().stripe_data["status"] == "canceled"


def test_an_org_plan_and_seats_follow_the_subscription(
    sandbox, as_user, alice, bob, acme, deliver, deliver_new, realtime
):
    realtime.listen(users=(alice, bob), orgs=(acme,))
    assert (acme.plan, seat_limit(acme)) == ("free", 5)
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox, org=acme))
    deliver_new()
    acme.refresh_from_db()
    assert (acme.plan, seat_limit(acme)) == ("pro", 25)
    subscription = sandbox.fake.objects[acme.stripe_subscription_id]
    events = realtime.received(acme)  # the org's group: every active member's sockets
    updates = [e["payload"] for e in events if e["type"] == "subscription_update"]
    assert [(u["event"], u["orgSlug"], u["plan"]) for u in updates] == [("created", "acme", "pro")]
    assert {"orgSlug": "acme", "event": "billing_changed", "field": "plan"} in [
        e["payload"] for e in events if e["type"] == "org_update"
    ]
    for member in (alice, bob):
        assert realtime.received(member, "user_update") == []
        member.refresh_from_db()
        assert member.role == Role.USER  # an org plan is not a personal role
    billing = as_user(alice).get("/api/v1/organizations/acme/billing").json()["data"]
    assert (billing["plan"], billing["seat_limit"], billing["has_subscription"]) == (
        "pro",
        25,
        True,
    )

    set_price(sandbox, subscription, "enterprise")
    deliver(sandbox.event("customer.subscription.updated", subscription))
    acme.refresh_from_db()
    assert (acme.plan, seat_limit(acme)) == ("enterprise", 0)
    updates = realtime.received(acme, "subscription_update")
    assert [(u["event"], u["plan"]) for u in updates] == [("updated", "enterprise")]
    audit = AuditLog.objects.filter(action="organization_billing_change").latest("pk")
    assert audit.changes == {"plan": ["pro", "enterprise"]}

    stripe.Subscription.cancel(subscription["id"])
    deliver_new()
    acme.refresh_from_db()
    assert (acme.plan, seat_limit(acme), acme.stripe_subscription_id) == ("free", 5, "")
    events = realtime.received(acme)
    assert [e["payload"]["event"] for e in events if e["type"] == "subscription_update"] == [
        "deleted"
    ]
    assert any(e["type"] == "org_update" for e in events)
    billing = as_user(alice).get("/api/v1/organizations/acme/billing").json()["data"]
    assert (billing["plan"], billing["seat_limit"], billing["has_subscription"]) == (
        "free",
        5,
        False,
    )
    assert billing["subscription"]["status"] == "canceled"


def test_an_org_subscription_does_not_touch_the_org_owners_role(
    sandbox, as_user, alice, acme, deliver_new
):
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox, org=acme))
    deliver_new()
    alice.refresh_from_db()
    assert alice.role == Role.USER
    assert not AuditLog.objects.filter(action="role_change").exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPER_ADMIN])
def test_role_sync_never_touches_staff(sandbox, as_user, deliver_new, role):
    user = UserFactory(email=f"{role}@example.com", role=role)
    sandbox.fake.checkout_pay(start_checkout(as_user(user), sandbox))
    deliver_new()
    user.refresh_from_db()
    assert user.role == role
    stripe.Subscription.cancel(Subscription.objects.get().id)
    deliver_new()
    user.refresh_from_db()
    assert user.role == role
    assert not AuditLog.objects.filter(action="role_change").exists()


def test_a_premium_user_stays_premium_while_one_of_two_subscriptions_is_live(
    subscribed, sandbox, alice, deliver_new
):
    """Cancelling an old subscription after a new one started does not demote."""
    customer = subscribed["customer"]
    second = sandbox.fake.subscription_create(
        customer=customer,
        items=[{"price": sandbox.prices["enterprise"], "quantity": 1}],
        metadata={},
    )
    sandbox.event("customer.subscription.created", second)
    sandbox.delivered -= 1
    deliver_new()
    stripe.Subscription.cancel(subscribed["id"])
    deliver_new()
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM


# --- payment failed, grace, recovery -------------------------------------------------------------


def test_a_failed_payment_keeps_the_plan_in_grace_and_tells_the_user(
    subscribed, sandbox, as_user, alice, deliver_new, realtime
):
    invoice = sandbox.fake.invoice_fail(subscribed["id"])
    assert deliver_new() == ["invoice.payment_failed", "customer.subscription.updated"]
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM  # past_due is the grace period
    body = as_user(alice).get("/api/v1/billing/subscription").json()
    assert (body["status"], body["plan"]) == ("past_due", "pro")
    events = realtime.received(alice)
    failed = [e["payload"] for e in events if e["type"] == "subscription_update"]
    assert [(f["event"], f["status"], f["message"]) for f in failed] == [
        ("payment_failed", "past_due", "Payment failed - please update your payment method")
    ]
    notes = [e["payload"] for e in events if e["type"] == "notification"]
    assert [(n["title"], n["type"]) for n in notes] == [("Payment failed", "error")]
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "Payment failed" in mail.outbox[0].subject
    assert invoice["number"] in mail.outbox[0].body
    assert Invoice.objects.filter(id=invoice["id"]).exists()
    assert AuditLog.objects.filter(action="billing_payment_failed").count() == 1


def test_a_replayed_payment_failure_sends_nothing_twice(
    subscribed, sandbox, alice, deliver, deliver_new, realtime
):
    sandbox.fake.invoice_fail(subscribed["id"])
    failed_event = sandbox.fake.events[sandbox.delivered]
    deliver_new()
    realtime.received(alice)
    outbox = len(mail.outbox)
    deliver(failed_event, expect=DUPLICATE)
    assert realtime.received(alice) == []
    assert len(mail.outbox) == outbox
    assert AuditLog.objects.filter(action="billing_payment_failed").count() == 1


def test_an_org_payment_failure_emails_the_owners_only(
    org_subscribed, sandbox, alice, bob, acme, deliver_new, realtime
):
    second_owner = UserFactory(email="olga@example.com")
    MembershipFactory(organization=acme, user=second_owner, role=OrgRole.OWNER)
    sandbox.fake.invoice_fail(org_subscribed["id"])
    deliver_new()
    acme.refresh_from_db()
    assert (acme.plan, seat_limit(acme)) == ("pro", 25)  # grace
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, second_owner.email])
    assert all("Acme" in m.subject for m in mail.outbox)
    alice_events = realtime.received(alice)
    assert [
        n["title"] for n in [e["payload"] for e in alice_events if e["type"] == "notification"]
    ] == ["Payment failed"]
    assert realtime.received(bob, "notification") == []  # owners only
    failed = realtime.received(acme, "subscription_update")  # every member
    assert [(f["event"], f["status"], f["orgSlug"]) for f in failed] == [
        ("payment_failed", "past_due", "acme")
    ]


def test_a_late_payment_failure_for_an_invoice_paid_since_sends_nothing(
    subscribed, sandbox, alice, deliver, realtime
):
    invoice = sandbox.fake.invoice_fail(subscribed["id"])
    failed_event = sandbox.fake.events[sandbox.delivered]
    stripe.Invoice.pay(invoice["id"])
    sandbox.delivered = len(sandbox.fake.events)
    deliver(failed_event)
    assert mail.outbox == []
    assert realtime.received(alice, "notification") == []


def test_payment_recovery_publishes_payment_received_once(
    subscribed, sandbox, alice, deliver_new, realtime
):
    invoice = sandbox.fake.invoice_fail(subscribed["id"])
    deliver_new()
    realtime.received(alice)
    stripe.Invoice.pay(invoice["id"])
    assert deliver_new() == [
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.subscription.updated",
    ]
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    events = realtime.received(alice)
    updates = [e["payload"] for e in events if e["type"] == "subscription_update"]
    assert [(u["event"], u["status"], u["message"]) for u in updates] == [
        ("updated", "active", "Payment received")
    ]
    notes = [e["payload"] for e in events if e["type"] == "notification"]
    assert [(n["title"], n["type"]) for n in notes] == [("Payment received", "success")]
    assert Subscription.objects.get().stripe_data["status"] == "active"
    assert not any(e["type"] == "user_update" for e in events)


@pytest.mark.parametrize("event_type", ["invoice.payment_succeeded", "invoice.paid"])
def test_either_invoice_success_event_alone_recovers(
    subscribed, sandbox, alice, deliver, deliver_new, realtime, event_type
):
    invoice = sandbox.fake.invoice_fail(subscribed["id"])
    deliver_new()
    realtime.received(alice)
    stripe.Invoice.pay(invoice["id"])
    event = next(e for e in sandbox.fake.events[sandbox.delivered :] if e["type"] == event_type)
    sandbox.delivered = len(sandbox.fake.events)
    deliver(event)
    updates = realtime.received(alice, "subscription_update")
    assert [u["message"] for u in updates] == ["Payment received"]


def test_a_subscription_that_ends_unpaid_demotes(subscribed, sandbox, alice, deliver_new):
    sandbox.fake.invoice_fail(subscribed["id"])
    deliver_new()
    subscribed["status"] = "unpaid"
    sandbox.event("customer.subscription.updated", subscribed)
    sandbox.delivered -= 1
    deliver_new()
    alice.refresh_from_db()
    assert alice.role == Role.USER


# --- trials ---------------------------------------------------------------------------------------


def test_trial_will_end_reminds_the_user(
    sandbox, settings, as_user, alice, deliver, deliver_new, realtime
):
    settings.STRIPE_TRIAL_DAYS_PRO = 14
    realtime.listen(users=(alice,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox))
    deliver_new()
    realtime.received(alice)
    mail.outbox.clear()
    subscription = sandbox.fake.objects[Subscription.objects.get().id]
    assert subscription["status"] == "trialing"
    event = sandbox.event("customer.subscription.trial_will_end", subscription)
    deliver(event)
    notes = realtime.received(alice, "notification")
    assert [n["title"] for n in notes] == ["Your trial ends soon"]
    assert [m.to for m in mail.outbox] == [[alice.email]]
    deliver(event, expect=DUPLICATE)
    assert len(mail.outbox) == 1


def test_trial_will_end_for_a_subscription_no_longer_trialing_sends_nothing(
    subscribed, sandbox, alice, deliver, realtime
):
    event = sandbox.event("customer.subscription.trial_will_end", subscribed)  # active
    deliver(event)
    assert mail.outbox == []
    assert realtime.received(alice, "notification") == []


def test_an_org_trial_reminder_goes_to_the_owners(
    sandbox, settings, as_user, alice, bob, acme, deliver, deliver_new, realtime
):
    settings.STRIPE_TRIAL_DAYS_PRO = 7
    realtime.listen(users=(alice, bob))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox, org=acme))
    deliver_new()
    mail.outbox.clear()
    realtime.received(alice), realtime.received(bob)
    acme.refresh_from_db()
    deliver(
        sandbox.event(
            "customer.subscription.trial_will_end",
            sandbox.fake.objects[acme.stripe_subscription_id],
        )
    )
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert [n["title"] for n in realtime.received(alice, "notification")] == [
        "Your trial ends soon"
    ]
    assert realtime.received(bob, "notification") == []


# --- the catalogue ------------------------------------------------------------------------------


def test_product_and_price_updates_keep_the_plans_current(sandbox, api, deliver_new):
    pro_product = sandbox.fake.objects[sandbox.prices["pro"]]["product"]
    stripe.Product.modify(
        pro_product, name="Pro Plus", description="More of everything", metadata={"x": "1"}
    )
    assert deliver_new() == ["product.updated"]
    assert Product.objects.get(id=pro_product).name == "Pro Plus"
    plans = api.get("/api/v1/billing/plans").json()
    assert (plans[0]["name"], plans[0]["description"]) == ("Pro Plus", "More of everything")

    stripe.Price.modify(sandbox.prices["pro"], active=False)
    assert deliver_new() == ["price.updated"]
    assert Price.objects.get(id=sandbox.prices["pro"]).active is False
    assert [p["price_id"] for p in api.get("/api/v1/billing/plans").json()] == [
        sandbox.prices["enterprise"]
    ]

    enterprise_product = sandbox.fake.objects[sandbox.prices["enterprise"]]["product"]
    stripe.Product.modify(enterprise_product, active=False)
    deliver_new()
    assert api.get("/api/v1/billing/plans").json() == []


def test_a_new_product_and_price_reach_the_plans_by_webhook(sandbox, api, deliver):
    price_id = sandbox.product("Team", 4900, metadata={"plan": "pro", "features": "A, B"})
    price = sandbox.fake.objects[price_id]
    product = sandbox.fake.objects[price["product"]]
    deliver(sandbox.event("product.created", product))
    deliver(sandbox.event("price.created", price))
    plans = api.get("/api/v1/billing/plans").json()
    team = next(p for p in plans if p["price_id"] == price_id)
    assert (team["name"], team["amount"], team["features"], team["plan"]) == (
        "Team",
        4900,
        ["A", "B"],
        "pro",
    )


def test_other_events_are_stored_and_acknowledged(sandbox, deliver):
    event = sandbox.event(
        "balance.available", {"object": "balance", "available": [], "pending": []}
    )
    deliver(event)
    assert Event.objects.get(id=event["id"]).type == "balance.available"
    deliver(event, expect=DUPLICATE)


# --- duplicates and order -----------------------------------------------------------------------


def test_a_duplicate_delivery_is_ignored_without_side_effects(
    sandbox, as_user, alice, deliver, realtime
):
    realtime.listen(users=(alice,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox))
    events = sandbox.fake.events[sandbox.delivered :]
    sandbox.delivered = len(sandbox.fake.events)
    for event in events:
        deliver(event)
    first = realtime.received(alice)
    audits = AuditLog.objects.count()
    for event in events:
        deliver(event, expect=DUPLICATE)
    assert realtime.received(alice) == []
    assert AuditLog.objects.count() == audits
    assert Event.objects.count() == 3
    assert [e["type"] for e in first].count("subscription_update") == 1


def test_updated_before_created_converges(subscribed_later, sandbox, alice, deliver, realtime):
    subscription, created, updated = subscribed_later
    deliver(updated)  # arrives first: the re-fetch brings Stripe's current state
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    mirrored = Subscription.objects.get(id=subscription["id"])
    assert mirrored.stripe_data["cancel_at_period_end"] is True
    updates = realtime.received(alice, "subscription_update")
    assert [(u["event"], u["cancelAtPeriodEnd"]) for u in updates] == [("created", True)]

    deliver(created)  # late, with older data: nothing changes, nothing is sent
    mirrored.refresh_from_db()
    assert mirrored.stripe_data["cancel_at_period_end"] is True
    assert realtime.received(alice) == []


def test_deleted_then_a_stale_updated_ends_canceled(
    subscribed_later, sandbox, alice, deliver, realtime
):
    subscription, created, updated = subscribed_later
    deliver(created)
    deliver(updated)
    stale = sandbox.event("customer.subscription.updated", subscription)  # still active in it
    stripe.Subscription.cancel(subscription["id"])
    deleted = sandbox.fake.events[-1]
    sandbox.delivered = len(sandbox.fake.events)
    realtime.received(alice)
    deliver(deleted)
    deliver(stale)
    alice.refresh_from_db()
    assert alice.role == Role.USER
    assert Subscription.objects.get(id=subscription["id"]).stripe_data["status"] == "canceled"
    updates = realtime.received(alice, "subscription_update")
    assert [u["event"] for u in updates] == ["deleted"]


def test_a_stale_org_update_after_deletion_leaves_the_org_free(
    org_subscribed, sandbox, acme, deliver
):
    stale = sandbox.event("customer.subscription.updated", org_subscribed)
    stripe.Subscription.cancel(org_subscribed["id"])
    deleted = sandbox.fake.events[-1]
    sandbox.delivered = len(sandbox.fake.events)
    deliver(deleted)
    deliver(stale)
    acme.refresh_from_db()
    assert (acme.plan, acme.stripe_subscription_id, seat_limit(acme)) == ("free", "", 5)


@pytest.fixture
def subscribed_later(sandbox, as_user, alice, realtime):
    """alice has a customer (an abandoned checkout); at the fake she then gets a subscription
    that is updated (cancel at period end): the `created` and `updated` events are returned
    undelivered."""
    realtime.listen(users=(alice,))
    start_checkout(as_user(alice), sandbox)
    customer = Customer.objects.get(subscriber=alice).id
    subscription = sandbox.fake.subscription_create(
        customer=customer, items=[{"price": sandbox.prices["pro"], "quantity": 1}], metadata={}
    )
    created = sandbox.event("customer.subscription.created", subscription)
    stripe.Subscription.modify(subscription["id"], cancel_at_period_end=True)
    updated = sandbox.fake.events[-1]
    sandbox.delivered = len(sandbox.fake.events)
    return subscription, created, updated


# --- failures and resync --------------------------------------------------------------------------


def test_a_processing_failure_is_500_stores_nothing_and_the_retry_processes_it(
    sandbox, as_user, alice, deliver, realtime
):
    realtime.listen(users=(alice,))
    sandbox.fake.checkout_pay(start_checkout(as_user(alice), sandbox))
    events = sandbox.fake.events[sandbox.delivered :]
    sandbox.delivered = len(sandbox.fake.events)
    created = next(e for e in events if e["type"] == "customer.subscription.created")
    sandbox.fake.failures.append((r"^/v1/subscriptions/", 500))

    response = deliver(created, expect=None)
    assert response.status_code == 500, response.content
    assert response.json()["error"] == "INTERNAL_ERROR"
    assert not Event.objects.exists()
    assert not Subscription.objects.exists()
    alice.refresh_from_db()
    assert alice.role == Role.USER
    assert realtime.received(alice) == []

    deliver(created)  # Stripe's retry
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    assert Event.objects.filter(id=created["id"]).exists()
    assert [u["event"] for u in realtime.received(alice, "subscription_update")] == ["created"]


def test_a_failure_in_keels_own_resync_of_an_invoice_event_is_500_too(
    subscribed, sandbox, alice, deliver
):
    invoice = sandbox.fake.invoice_fail(subscribed["id"])
    event = sandbox.fake.events[sandbox.delivered]
    sandbox.delivered = len(sandbox.fake.events)
    # dj-stripe re-reads the invoice; then Keel re-reads its subscription, which fails.
    sandbox.fake.failures.append((rf"^/v1/subscriptions/{subscribed['id']}$", 500))
    response = deliver(event, expect=None)
    assert response.status_code == 500, response.content
    assert not Event.objects.filter(id=event["id"]).exists()
    assert not Invoice.objects.filter(id=invoice["id"]).exists()
    assert mail.outbox == []
    deliver(event)
    assert len(mail.outbox) == 1


def test_an_event_for_an_object_stripe_no_longer_has_is_acknowledged(sandbox, deliver):
    ghost = {"id": "sub_gone", "object": "subscription", "customer": "cus_gone", "status": "active"}
    event = sandbox.event("customer.subscription.updated", ghost)
    deliver(event)
    assert not Subscription.objects.exists()


def test_an_event_for_a_customer_keel_does_not_know_is_mirrored_only(sandbox, deliver):
    customer = sandbox.fake.dispatch("POST", "/v1/customers", {"email": "stranger@example.com"})
    subscription = sandbox.fake.subscription_create(
        customer=customer["id"],
        items=[{"price": sandbox.prices["pro"], "quantity": 1}],
        metadata={},
    )
    deliver(sandbox.event("customer.subscription.created", subscription))
    assert Subscription.objects.filter(id=subscription["id"]).exists()
    assert not Organization.objects.exclude(plan="free").exists()


def test_resync_converges_a_subscription_whose_webhook_never_came(
    sandbox, as_user, alice, acme, committed, realtime
):
    realtime.listen(users=(alice,), orgs=(acme,))
    start_checkout(as_user(alice), sandbox)
    start_checkout(as_user(alice), sandbox, org=acme)
    acme.refresh_from_db()
    customer = Customer.objects.get(subscriber=alice).id
    personal = sandbox.fake.subscription_create(
        customer=customer, items=[{"price": sandbox.prices["pro"], "quantity": 1}], metadata={}
    )
    org = sandbox.fake.subscription_create(
        customer=acme.stripe_customer_id,
        items=[{"price": sandbox.prices["enterprise"], "quantity": 1}],
        metadata={},
    )
    sandbox.delivered = len(sandbox.fake.events)  # the webhooks never come

    changed = committed(customer_refresh, customer_id=customer, source="resync")
    assert changed == [f"subscription {personal['id']} created", f"user {alice.pk} role"]
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    assert [u["event"] for u in realtime.received(alice, "subscription_update")] == ["created"]
    assert AuditLog.objects.filter(action="billing_resync", target_id=customer).count() == 1

    committed(customer_refresh, customer_id=acme.stripe_customer_id, source="resync")
    acme.refresh_from_db()
    assert (acme.plan, acme.stripe_subscription_id, seat_limit(acme)) == (
        "enterprise",
        org["id"],
        0,
    )

    # Idempotent: a second run changes nothing and says nothing.
    realtime.received(alice), realtime.received(acme)
    assert committed(customer_refresh, customer_id=customer, source="resync") == []
    assert committed(customer_refresh, customer_id=acme.stripe_customer_id, source="resync") == []
    assert realtime.received(alice) == [] and realtime.received(acme) == []
    assert AuditLog.objects.filter(action="billing_resync").count() == 2

    # A cancellation whose webhook was lost converges too.
    sandbox.fake.objects[personal["id"]].update(status="canceled", canceled_at=int(time.time()))
    committed(customer_refresh, customer_id=customer, source="resync")
    alice.refresh_from_db()
    assert alice.role == Role.USER


# --- per-seat quantity ------------------------------------------------------------------------------


def test_a_per_seat_subscription_follows_the_member_count(
    sandbox, settings, as_user, alice, bob, acme, committed, deliver_new
):
    settings.STRIPE_PER_SEAT_PRICE_IDS = [sandbox.prices["pro"]]
    client = as_user(alice)
    sandbox.fake.checkout_pay(start_checkout(client, sandbox, org=acme))
    deliver_new()
    acme.refresh_from_db()
    subscription = sandbox.fake.objects[acme.stripe_subscription_id]
    assert subscription["items"]["data"][0]["quantity"] == 2

    response = committed(client.delete, f"/api/v1/organizations/acme/members/{bob.pk}")
    assert response.status_code == 200, response.content
    assert subscription["items"]["data"][0]["quantity"] == 1  # the job ran after the commit
    audit = AuditLog.objects.get(action="billing_seats_change")
    assert audit.changes == {"quantity": [2, 1]}
    assert Subscription.objects.get().stripe_data["items"]["data"][0]["quantity"] == 1
    # Stripe's own event for the change comes back: nothing more changes.
    assert deliver_new() == ["customer.subscription.updated"]
    assert AuditLog.objects.filter(action="billing_seats_change").count() == 1

    from billing.services import seats_sync

    assert seats_sync(organization_id=acme.pk) is False  # idempotent


def test_seats_are_left_alone_for_a_flat_price(
    sandbox, as_user, alice, bob, acme, committed, deliver_new
):
    client = as_user(alice)
    sandbox.fake.checkout_pay(start_checkout(client, sandbox, org=acme))
    deliver_new()
    sandbox.fake.requests.clear()
    committed(client.delete, f"/api/v1/organizations/acme/members/{bob.pk}")
    assert [r for r in sandbox.fake.requests if r[0] == "POST"] == []


def test_an_org_invoice_change_tells_its_open_pages_to_re_read_billing(
    org_subscribed, sandbox, alice, acme, deliver_new, realtime
):
    invoice = sandbox.fake.invoice_fail(org_subscribed["id"])
    deliver_new()
    stripe.Invoice.pay(invoice["id"])
    deliver_new()
    invalidations = realtime.received(acme, "cache_invalidate")
    assert [e["event"] for e in invalidations] == [
        "invoice_payment_failed",
        "invoice_paid",
        "invoice_payment_succeeded",
    ]
    assert all(e["queryKeys"] == ["billing"] and e["orgSlug"] == "acme" for e in invalidations)
    # Personal billing pages are not told about the org's invoices.
    assert realtime.received(alice, "cache_invalidate") == []
