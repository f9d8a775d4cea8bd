"""The Stripe-webhook row of `make loadtest`: signed `customer.subscription.updated` deliveries
of one organization's subscription, sent by a pool of threads to a Keel server whose Stripe is
the fake (`python -m billing.sandbox`). Each delivery is verified, recorded once, and re-reads
the subscription from the fake, as with Stripe."""

from __future__ import annotations

import hashlib
import hmac
import json
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SECRET_KEY = "sk_test_" + "loadtest" * 4


def _form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs += _form(value, name)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                pairs += (
                    _form(item, f"{name}[{index}]")
                    if isinstance(item, dict)
                    else [(f"{name}[{index}]", str(item))]
                )
        else:
            pairs.append((name, str(value)))
    return pairs


def stripe(base: str, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
    data = urllib.parse.urlencode(_form(params or {})).encode() if method == "POST" else None
    request = urllib.request.Request(  # noqa: S310 (the fake on loopback)
        base + path, data=data, method=method, headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"{}")


def subscription_prepare(base: str) -> dict[str, Any]:
    """An Enterprise price, a customer and its paid subscription at the fake."""
    product = stripe(
        base, "POST", "/v1/products", {"name": "Enterprise", "metadata": {"plan": "enterprise"}}
    )
    price = stripe(base, "POST", "/v1/prices", {
        "product": product["id"], "unit_amount": 9900, "currency": "usd",
        "recurring": {"interval": "month"},
    })  # fmt: skip
    customer = stripe(base, "POST", "/v1/customers", {"email": "owner@loadtest.keel"})
    session = stripe(base, "POST", "/v1/checkout/sessions", {
        "mode": "subscription", "customer": customer["id"], "success_url": "http://x/",
        "line_items": [{"price": price["id"], "quantity": 1}],
    })  # fmt: skip
    request = urllib.request.Request(  # noqa: S310
        f"{base}/checkout/{session['id']}/pay", data=b"", method="POST"
    )
    try:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    except urllib.error.HTTPError as redirect:  # 303 to the success URL, not followed
        if redirect.code != 303:
            raise
    except urllib.error.URLError:
        pass  # the redirect target (http://x/) does not exist
    session = stripe(base, "GET", f"/v1/checkout/sessions/{session['id']}")
    return dict(stripe(base, "GET", f"/v1/subscriptions/{session['subscription']}"))


def _signed(event: dict[str, Any], secret: str) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return payload, f"t={stamp},v1={digest.hexdigest()}"


def deliver(
    url: str, subscription: dict[str, Any], secret: str, *, events: int, clients: int, tag: str
) -> dict[str, float]:
    """`events` distinct deliveries from `clients` threads: events/s, p50 and p99 latency."""

    def one(n: int) -> tuple[float, int]:
        event = {
            "id": f"evt_load_{tag}_{n:06d}", "object": "event",
            "type": "customer.subscription.updated", "api_version": "2024-06-20",
            "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
            "data": {"object": subscription}, "request": {"id": None, "idempotency_key": None},
        }  # fmt: skip
        payload, signature = _signed(event, secret)
        request = urllib.request.Request(  # noqa: S310
            url, data=payload, method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )  # fmt: skip
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        return time.perf_counter() - started, status

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(events)))
    wall = time.perf_counter() - started
    latencies = sorted(seconds for seconds, _ in results)
    return {
        "events": events,
        "clients": clients,
        "events_per_s": events / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "non_200": sum(1 for _, status in results if status != 200),
    }
