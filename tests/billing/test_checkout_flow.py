"""Checkout to a live plan, end to end through the fake: personal (role premium) and org (plan,
seats), with the webhook deliveries Stripe would make."""

from __future__ import annotations

import pytest
from djstripe.models import Customer, Event, Subscription

from accounts.models import Role
from config import metrics
from organizations.services import seat_limit

pytestmark = pytest.mark.django_db


def test_personal_checkout_pays_and_makes_the_user_premium(sandbox, as_user, alice):
    client = as_user(alice)
    response = client.post(
        "/api/v1/billing/checkout", {"price_id": sandbox.prices["pro"]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"].startswith(sandbox.url + "/checkout/")
    session = sandbox.fake.objects[body["session_id"]]
    assert session["client_reference_id"] == f"user:{alice.pk}"
    assert session["success_url"].endswith("/billing/success?session_id={CHECKOUT_SESSION_ID}")
    customer = Customer.objects.get(subscriber=alice)
    assert session["customer"] == customer.id

    sandbox.pay(body["session_id"])

    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM
    sub = client.get("/api/v1/billing/subscription").json()
    assert sub["status"] == "active" and sub["plan"] == "pro"
    assert sub["stripe_price_id"] == sandbox.prices["pro"]
    assert Event.objects.count() == 3
    # /metrics: keel_active_subscriptions follows the events.
    assert metrics.ACTIVE_SUBSCRIPTIONS._value.get() == 1


def test_org_checkout_raises_the_seat_limit(sandbox, as_user, alice, acme):
    client = as_user(alice)
    response = client.post(
        "/api/v1/organizations/acme/billing/checkout",
        {"price_id": sandbox.prices["pro"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    sandbox.pay(response.json()["data"]["session_id"])
    acme.refresh_from_db()
    assert acme.plan == "pro"
    assert seat_limit(acme) == 25
    billing = client.get("/api/v1/organizations/acme/billing").json()["data"]
    assert billing["has_subscription"] is True
    assert billing["seat_limit"] == 25 and billing["seat_count"] == 2
    assert billing["subscription"]["organization_id"] == acme.pk
    assert Subscription.objects.count() == 1
