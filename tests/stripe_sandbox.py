"""The Stripe fake (billing/sandbox) for tests, over real HTTP: the stripe library and dj-stripe
make their calls as in production, and the fake's events reach Keel's webhook route signed as
Stripe signs them. Nothing of Keel's is mocked. The `sandbox` fixture (tests/conftest.py) turns
billing on against a fresh fake for one test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rest_framework.test import APIClient

from billing.gateway import stripe_configure
from billing.sandbox.fake import FakeStripe, signature_header
from billing.sandbox.server import serve
from billing.services import catalogue_sync

SECRET_KEY = "sk_test_" + "keel" * 8
PUBLISHABLE_KEY = "pk_test_" + "keel" * 8
WEBHOOK = "/api/v1/webhooks/stripe"


@dataclass
class Sandbox:
    fake: FakeStripe
    url: str
    prices: dict[str, str] = field(default_factory=dict)  # plan -> price id
    delivered: int = 0  # events of `fake.events` delivered so far

    def product(self, name: str, cents: int, **product: Any) -> str:
        created = self.fake.dispatch("POST", "/v1/products", {"name": name, **product})
        price = self.fake.dispatch(
            "POST",
            "/v1/prices",
            {
                "product": created["id"],
                "unit_amount": str(cents),
                "currency": "usd",
                "recurring": {"interval": "month"},
            },
        )
        return str(price["id"])

    def post(self, event: dict[str, Any], *, secret: str | None = None, **headers: str) -> Any:
        """Deliver one event to Keel's webhook route, signed (with the fake's secret)."""
        payload = json.dumps(event).encode()
        signature = signature_header(payload, secret or self.fake.webhook_secret)
        return APIClient().post(
            WEBHOOK,
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
            **headers,
        )

    def deliver_new(self) -> list[Any]:
        """Deliver the events the fake emitted since the last call, in order."""
        events = self.fake.events[self.delivered :]
        self.delivered = len(self.fake.events)
        responses = [self.post(e) for e in events]
        for event, response in zip(events, responses, strict=True):
            assert response.status_code == 200, (event["type"], response.content)
        return responses

    def pay(self, session_id: str) -> None:
        """What a person paying on Stripe's hosted page does; the events then reach Keel."""
        self.fake.checkout_pay(session_id)
        self.deliver_new()

    def event(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """A new event for the object as it is now (delivered by the test, not at once)."""
        event = self.fake.emit(event_type, obj)
        self.delivered = len(self.fake.events)
        return event


@contextmanager
def sandbox_running(settings: Any) -> Iterator[Sandbox]:
    """Billing on, against a fresh fake with a Pro and an Enterprise monthly price, synced
    (`settings`: pytest-django's fixture, which restores the settings afterwards)."""
    fake = FakeStripe()
    server, url = serve(fake)
    fake.base_url = url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_ENABLED = True
    settings.STRIPE_API_BASE = url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_WEBHOOK_SECRETS = [fake.webhook_secret]
    stripe_configure()
    box = Sandbox(fake, url)
    box.prices["pro"] = box.product(
        "Pro", 1900, marketing_features=[{"name": "25 seats"}, {"name": "Priority support"}]
    )
    box.prices["enterprise"] = box.product(
        "Enterprise", 9900, metadata={"features": "Unlimited seats, SSO , Audit exports"}
    )
    settings.STRIPE_PRO_PRICE_IDS = [box.prices["pro"]]
    settings.STRIPE_ENTERPRISE_PRICE_IDS = [box.prices["enterprise"]]
    catalogue_sync()
    try:
        yield box
    finally:
        server.shutdown()
        settings.STRIPE_API_BASE = "http://127.0.0.1:9"
        stripe_configure()
