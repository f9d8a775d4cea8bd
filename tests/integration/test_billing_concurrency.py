"""Stripe webhooks delivered concurrently to a real Keel server (uvicorn, PostgreSQL), signed
by the Stripe fake that both this test and the server talk to over HTTP: many distinct events
at once are all processed (none lost), and one event delivered many times at once is processed
exactly once (contract §5.3). Needs PostgreSQL (the transactions really run in parallel)."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from djstripe.models import Customer, Event, Subscription

from accounts.models import Role, User
from billing.gateway import stripe_configure
from billing.sandbox.fake import FakeStripe, signature_header
from billing.sandbox.server import serve
from billing.services import catalogue_sync, checkout_session_create
from security.models import AuditLog
from tests.factories import UserFactory
from tests.integration.servers import (
    NEEDS_POSTGRES_AND_REDIS,
    NO_PROXY,
    Server,
    database_url_for_servers,
    free_port,
    start,
    stop,
    wait_until_live,
)
from tests.stripe_sandbox import PUBLISHABLE_KEY, SECRET_KEY

pytestmark = [
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.django_db(transaction=True),
]
WEB_THREADS = 16


class Stripe:
    """The fake, served on a thread of this process, with one Pro price."""

    def __init__(self) -> None:
        self.fake = FakeStripe()
        self.http, self.url = serve(self.fake)
        self.fake.base_url = self.url
        product = self.fake.dispatch("POST", "/v1/products", {"name": "Pro"})
        self.price = self.fake.dispatch(
            "POST",
            "/v1/prices",
            {
                "product": product["id"],
                "unit_amount": "1900",
                "currency": "usd",
                "recurring": {"interval": "month"},
            },
        )["id"]


@pytest.fixture(scope="module")
def stripe_fake() -> Iterator[Stripe]:
    box = Stripe()
    yield box
    box.http.shutdown()


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, stripe_fake: Stripe, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("billing-concurrency")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_servers(),
        "PYTHONUNBUFFERED": "1",
        "CHANNEL_LAYER_PREFIX": f"keel-it-{uuid.uuid4().hex[:12]}",
        "RATE_LIMIT_ENABLED": "false",
        "WEB_THREADS": str(WEB_THREADS),
        "DB_POOL_MAX_SIZE": str(WEB_THREADS + 2),
        "DJANGO_SETTINGS_MODULE": "config.settings",  # not the tests' (billing off there)
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_API_BASE": stripe_fake.url,
        "STRIPE_WEBHOOK_SECRET": f"whsec_retired,{stripe_fake.fake.webhook_secret}",
        "STRIPE_PRO_PRICE_IDS": stripe_fake.price,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
    }
    one = Server("server", free_port(), tmp / "server.log")
    try:
        start(one, env)
        wait_until_live(one)
        yield one
    finally:
        stop(one)


@pytest.fixture
def billing_on(settings: Any, stripe_fake: Stripe) -> Stripe:
    """This process talks to the same fake (to set up customers) and has the catalogue."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_ENABLED = True
    settings.STRIPE_API_BASE = stripe_fake.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_WEBHOOK_SECRETS = [stripe_fake.fake.webhook_secret]
    settings.STRIPE_PRO_PRICE_IDS = [stripe_fake.price]
    stripe_configure()
    catalogue_sync()
    yield stripe_fake
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    stripe_configure()


def deliver(server: Server, fake: FakeStripe, event: dict[str, Any]) -> tuple[int, str]:
    payload = json.dumps(event).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/v1/webhooks/stripe",
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(payload, fake.webhook_secret),
        },
    )
    try:
        with NO_PROXY.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())["message"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def subscribed_user(stripe: Stripe, n: int) -> tuple[User, dict[str, Any]]:
    """A user with a Stripe customer (an abandoned checkout) and, at Stripe, a new active
    subscription whose `customer.subscription.created` event is returned undelivered."""
    user = UserFactory(email=f"payer{n}@example.com")
    checkout_session_create(user=user, price_id=stripe.price)
    customer = Customer.objects.get(subscriber=user).id
    subscription = stripe.fake.subscription_create(
        customer=customer, items=[{"price": stripe.price, "quantity": 1}], metadata={}
    )
    return user, stripe.fake.emit("customer.subscription.created", subscription)


def test_fifty_distinct_deliveries_at_once_are_all_processed(server, billing_on):
    pairs = [subscribed_user(billing_on, n) for n in range(50)]
    start_together = threading.Barrier(len(pairs))

    def send(event: dict[str, Any]) -> tuple[int, str]:
        start_together.wait(timeout=30)
        return deliver(server, billing_on.fake, event)

    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        results = list(pool.map(send, [event for _, event in pairs]))

    assert results == [(200, "Webhook processed")] * len(pairs), server.new_output()[-4000:]
    assert set(Event.objects.values_list("id", flat=True)) == {e["id"] for _, e in pairs}
    assert Subscription.objects.count() == len(pairs)
    roles = set(User.objects.filter(pk__in=[u.pk for u, _ in pairs]).values_list("role", flat=True))
    assert roles == {Role.PREMIUM}
    assert AuditLog.objects.filter(action="role_change").count() == len(pairs)


def test_one_event_delivered_ten_times_at_once_is_processed_once(server, billing_on):
    user, event = subscribed_user(billing_on, 0)
    start_together = threading.Barrier(10)

    def send(_: int) -> tuple[int, str]:
        start_together.wait(timeout=30)
        return deliver(server, billing_on.fake, event)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(send, range(10)))

    assert sorted(results) == sorted(
        [(200, "Webhook processed")] + [(200, "Duplicate event ignored")] * 9
    ), server.new_output()[-4000:]
    assert Event.objects.filter(id=event["id"]).count() == 1
    user.refresh_from_db()
    assert user.role == Role.PREMIUM
    role_changes = AuditLog.objects.filter(action="role_change", target_id=str(user.pk))
    assert role_changes.count() == 1  # the side effects ran once
    # Once more, later: still a duplicate.
    assert deliver(server, billing_on.fake, event) == (200, "Duplicate event ignored")


def test_a_failed_delivery_racing_its_retry_leaves_one_processed_event(server, billing_on):
    """The delivery that records the event fails at Stripe (500, rolled back) while copies are
    in flight: the event is still processed, exactly once, by one of the others."""
    user, event = subscribed_user(billing_on, 0)
    billing_on.fake.failures.append((r"^/v1/subscriptions/", 500))
    start_together = threading.Barrier(5)

    def send(_: int) -> tuple[int, str]:
        start_together.wait(timeout=30)
        return deliver(server, billing_on.fake, event)

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(send, range(5)))
    # The copy that recorded the event first met the failure and rolled back; the copies
    # waiting on its row then recorded it again: one of them processed it.
    assert sorted(status for status, _ in results) == [200, 200, 200, 200, 500], results
    assert results.count((200, "Webhook processed")) == 1, results
    assert Event.objects.filter(id=event["id"]).count() == 1
    assert AuditLog.objects.filter(action="role_change", target_id=str(user.pk)).count() == 1
