"""The Stripe fake (billing/sandbox/fake.py) as the real stripe library sees it: over HTTP, with
Stripe's encoding, ids, lists and errors; hosted checkout; signed webhooks that the library's
own verifier accepts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from billing.sandbox.fake import FakeStripe, decode_form
from billing.sandbox.server import serve

SECRET_KEY = "sk_test_" + "k" * 32


@pytest.fixture
def webhooks() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A receiver that records (payload, Stripe-Signature) and answers 200."""
    received: list[tuple[bytes, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received.append((environ["wsgi.input"].read(length), environ["HTTP_STRIPE_SIGNATURE"]))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    server, url = serve(app)
    yield url, received
    server.shutdown()


@pytest.fixture
def fake(webhooks) -> Iterator[FakeStripe]:
    fake = FakeStripe(webhook_url=webhooks[0])
    server, url = serve(fake)
    fake.base_url = url
    previous = (stripe.api_base, stripe.api_key, stripe.max_network_retries)
    stripe.api_base, stripe.api_key, stripe.max_network_retries = url, SECRET_KEY, 0
    yield fake
    stripe.api_base, stripe.api_key, stripe.max_network_retries = previous
    server.shutdown()


def _plan(fake: FakeStripe) -> tuple[Any, Any]:
    product = stripe.Product.create(
        name="Pro", metadata={"plan": "pro"}, marketing_features=[{"name": "25 seats"}]
    )
    price = stripe.Price.create(
        product=product.id, unit_amount=1900, currency="usd", recurring={"interval": "month"}
    )
    return product, price


def test_stripe_encodes_nested_keys_as_the_fake_decodes_them():
    assert decode_form(
        "line_items[0][price]=price_1&line_items[0][quantity]=2&metadata[org]=5&expand[]=a&expand[]=b"
    ) == {
        "line_items": [{"price": "price_1", "quantity": "2"}],
        "metadata": {"org": "5"},
        "expand": ["a", "b"],
    }


def test_products_and_prices_round_trip_through_the_library(fake):
    product, price = _plan(fake)
    assert product.id.startswith("prod_") and product.metadata["plan"] == "pro"
    assert [f["name"] for f in product.marketing_features] == ["25 seats"]
    assert price.recurring.interval == "month" and price.unit_amount == 1900
    assert stripe.Price.retrieve(price.id).product == product.id
    listed = stripe.Price.list(product=product.id, active=True)
    assert [p.id for p in listed.data] == [price.id]
    assert stripe.Account.retrieve().id == fake.account_id
    assert list(stripe.Product.list_features(product.id).data) == []


def test_errors_have_stripes_shape_and_map_to_the_librarys_exceptions(fake):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Customer.retrieve("cus_nope")
    assert missing.value.code == "resource_missing" and missing.value.http_status == 404
    with pytest.raises(stripe.AuthenticationError):
        stripe.Customer.list(api_key="pk_test_wrong_kind_of_key_000000000")
    fake.failures.append((r"^/v1/customers$", 500))
    with pytest.raises(stripe.APIError):
        stripe.Customer.create(email="a@example.com")
    assert stripe.Customer.create(email="a@example.com").id.startswith("cus_")  # once only


def test_hosted_checkout_creates_the_subscription_and_sends_signed_events(fake, webhooks):
    _, price = _plan(fake)
    customer = stripe.Customer.create(email="owner@example.com", metadata={"org_id": "5"})
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        client_reference_id="org:5",
        line_items=[{"price": price.id, "quantity": 1}],
        success_url="https://keel.example/billing/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://keel.example/billing/cancel",
        metadata={"org_id": "5"},
        subscription_data={"trial_period_days": 14},
    )
    page = urllib.request.urlopen(session.url).read().decode()
    assert "Pro" in page and "Pay (sandbox)" in page

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as paid:
        opener.open(urllib.request.Request(f"{session.url}/pay", data=b"", method="POST"))
    assert paid.value.code == 303
    # Stripe's placeholder becomes the session's id.
    assert paid.value.headers["Location"] == (
        f"https://keel.example/billing/success?session_id={session.id}"
    )

    completed = stripe.checkout.Session.retrieve(session.id)
    assert (completed.status, completed.payment_status) == ("complete", "paid")
    subscription = stripe.Subscription.retrieve(completed.subscription)
    assert subscription.status == "trialing" and subscription.customer == customer.id
    assert subscription["items"].data[0].price.id == price.id
    assert subscription.current_period_end > subscription.current_period_start
    invoices = stripe.Invoice.list(customer=customer.id)
    assert [i.status for i in invoices.data] == ["paid"]

    fake.flush()  # deliveries go out from the fake's own thread, in order
    _, received = webhooks
    events = [
        stripe.Webhook.construct_event(payload, header, fake.webhook_secret)
        for payload, header in received
    ]
    assert [e.type for e in events] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]
    assert events[0].data.object.client_reference_id == "org:5"
    assert all(status == 200 for _, status in fake.deliveries)
    assert stripe.Event.retrieve(events[1].id).data.object.id == subscription.id


def test_a_subscription_is_updated_and_cancelled_with_events(fake, webhooks):
    _, price = _plan(fake)
    customer = stripe.Customer.create(email="u@example.com")
    created = fake.subscription_create(
        customer=customer.id, items=[{"price": price.id, "quantity": 3}], metadata={}
    )
    item = created["items"]["data"][0]["id"]
    updated = stripe.Subscription.modify(
        created["id"], cancel_at_period_end=True, items=[{"id": item, "quantity": 4}]
    )
    assert updated.cancel_at_period_end is True and updated["items"].data[0].quantity == 4
    assert [s.id for s in stripe.Subscription.list(customer=customer.id).data] == [created["id"]]
    cancelled = stripe.Subscription.cancel(created["id"])
    assert cancelled.status == "canceled"
    assert stripe.Subscription.list(customer=customer.id).data == []
    assert [s.id for s in stripe.Subscription.list(customer=customer.id, status="all").data] == [
        created["id"]
    ]
    fake.flush()
    types = [json.loads(payload)["type"] for payload, _ in webhooks[1]]
    assert types == ["customer.subscription.updated", "customer.subscription.deleted"]


def test_a_wrong_secret_does_not_verify(fake):
    payload = json.dumps({"id": "evt_1", "object": "event"}).encode()
    from billing.sandbox.fake import signature_header

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload, signature_header(payload, "whsec_other"), fake.webhook_secret
        )


def test_the_sandbox_command_serves_a_catalogue_and_stops_on_ctrl_c(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KEEL_IGNORE_DOTENV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "stripe_sandbox", "--port", str(port), "--webhook-url", ""],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 30
        while not any("Stripe sandbox on" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stdout.readline())
        previous = (stripe.api_base, stripe.api_key)
        stripe.api_base, stripe.api_key = f"http://127.0.0.1:{port}", SECRET_KEY
        try:
            prices = stripe.Price.list(active=True).data
        finally:
            stripe.api_base, stripe.api_key = previous
        assert sorted(p.unit_amount for p in prices) == [1900, 9900]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_sandbox_refuses_to_run_in_production(tmp_path):
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ["PATH"],
        "KEEL_IGNORE_DOTENV": "1",
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "stripe_sandbox"],
        cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "for development only" in done.stderr
