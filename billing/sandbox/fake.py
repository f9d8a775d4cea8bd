"""A Stripe-compatible fake API, for tests and the offline sandbox (issue 13, item 9).

The stripe library (and dj-stripe through it) talks to this over HTTP when `STRIPE_API_BASE`
points here: form-encoded requests with Stripe's nested keys, JSON objects with Stripe's ids and
`object` fields, list objects, and Stripe-shaped errors. State lives in memory, per instance.

Besides the API, the fake hosts a stand-in for Stripe Checkout: `GET /checkout/<session>` shows
a page with a "Pay" button; paying creates the subscription and its paid invoice and delivers
the events Stripe would (`checkout.session.completed`, `customer.subscription.created`,
`invoice.paid`), signed with the webhook secret, to the webhook URL.

Development and tests only: nothing here is Stripe, and no money moves.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Environ = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]
StripeObject = dict[str, Any]


class StripeError(Exception):
    def __init__(self, status: int, message: str, *, code: str = "", param: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param

    def body(self) -> StripeObject:
        kind = "invalid_request_error" if self.status < 500 else "api_error"
        error: StripeObject = {"type": kind, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return {"error": error}


def decode_form(body: str) -> StripeObject:
    """Stripe's form encoding: `a[b][0][c]=v` → {"a": {"b": [{"c": "v"}]}}; `expand[]=x`."""
    result: StripeObject = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            nxt = None if last else parts[index + 1]
            container: Any = [] if nxt == "[]" or (nxt is not None and nxt.isdigit()) else {}
            if isinstance(node, list):
                if part == "[]":
                    if last:
                        node.append(value)
                        break
                    node.append(container)
                    node = node[-1]
                    continue
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                else:
                    if node[position] is None:
                        node[position] = container
                    node = node[position]
            elif last:
                node[part] = value
            else:
                node = node.setdefault(part, container)
    return result


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it (v1: HMAC-SHA256 of `t.payload`)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@dataclass
class FakeStripe:
    """The fake's state and its WSGI application (`fake(environ, start_response)`)."""

    base_url: str = "http://127.0.0.1"  # where this fake is reachable (for hosted pages)
    webhook_url: str = ""  # where events go; empty: events are only recorded
    webhook_secret: str = "whsec_sandbox_0123456789abcdef0123456789"  # noqa: S105 (a placeholder)
    account_id: str = "acct_1SandboxKeel000000"
    objects: dict[str, StripeObject] = field(default_factory=dict)  # by id
    events: list[StripeObject] = field(default_factory=list)
    deliveries: list[tuple[str, int]] = field(default_factory=list)  # (event id, HTTP status)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    failures: list[tuple[str, int]] = field(default_factory=list)  # (path regex, status) once
    delivery_attempts: int = 1  # per event; a failed attempt waits 2**n seconds before the next
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _outbox: queue.Queue[StripeObject] = field(default_factory=queue.Queue)
    _idempotent: dict[str, tuple[int, StripeObject]] = field(default_factory=dict)
    _sender: threading.Thread | None = None
    _counter: Iterable[int] = field(default_factory=lambda: itertools.count(1))

    # --- objects ---------------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):06d}{secrets.token_hex(5)}"  # type: ignore[call-overload]

    def create(self, kind: str, prefix: str, **fields: Any) -> StripeObject:
        obj: StripeObject = {
            "id": self.new_id(prefix),
            "object": kind,
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
            **fields,
        }
        self.objects[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str) -> StripeObject:
        obj = self.objects.get(object_id)
        if obj is None or obj["object"] != kind:
            raise StripeError(
                404, f"No such {kind}: '{object_id}'", code="resource_missing", param="id"
            )
        return obj

    def of_kind(self, kind: str) -> list[StripeObject]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def account(self) -> StripeObject:
        return {
            "id": self.account_id,
            "object": "account",
            "business_profile": {"name": "Keel Sandbox"},
            "settings": {"dashboard": {"display_name": "Keel Sandbox"}},
            "charges_enabled": False,
            "country": "US",
            "default_currency": "usd",
            "email": "sandbox@keel.invalid",
            "type": "standard",
            "metadata": {},
        }

    # --- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode() if length else ""
        query = environ.get("QUERY_STRING", "")
        params = decode_form(raw if method == "POST" else query)
        idempotency_key = environ.get("HTTP_IDEMPOTENCY_KEY", "") if method == "POST" else ""
        with self._lock:
            self.requests.append((method, path))
            if idempotency_key and idempotency_key in self._idempotent:
                status, body = self._idempotent[idempotency_key]  # Stripe's replay
                return self._respond(start_response, status, body)
            try:
                for pattern, status in list(self.failures):
                    if re.search(pattern, path):
                        self.failures.remove((pattern, status))
                        raise StripeError(status, "Injected failure")
                if path.startswith("/checkout/"):
                    return self._hosted(method, path, start_response)
                if not environ.get("HTTP_AUTHORIZATION", "").startswith("Bearer sk_"):
                    raise StripeError(401, "Invalid API Key provided")
                status, body = 200, self.dispatch(method, path, params)
            except StripeError as error:
                status, body = error.status, error.body()
            if idempotency_key and status < 500:
                self._idempotent[idempotency_key] = (status, body)
        return self._respond(start_response, status, body)

    def _respond(
        self, start_response: StartResponse, status: int, body: StripeObject
    ) -> list[bytes]:
        payload = json.dumps(body).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [("Content-Type", "application/json"), ("Request-Id", self.new_id("req"))],
        )
        return [payload]

    def dispatch(self, method: str, path: str, params: StripeObject) -> StripeObject:
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(params, *match.groups())
        raise StripeError(404, f"Unrecognized request URL ({method}: {path})")

    def _routes(self) -> list[tuple[str, str, Callable[..., StripeObject]]]:
        return [
            (r"/v1/account", "GET", lambda p: self.account()),
            (r"/v1/accounts", "GET", lambda p: self._list([self.account()], "/v1/accounts")),
            (r"/v1/products", "POST", self._product_create),
            (r"/v1/products", "GET", lambda p: self._list_kind("product", p, "/v1/products")),
            (r"/v1/products/([^/]+)", "GET", lambda p, i: self.get("product", i)),
            (r"/v1/products/([^/]+)", "POST", lambda p, i: self._update_emit("product", i, p)),
            (r"/v1/products/([^/]+)/features", "GET", self._product_features),
            (r"/v1/prices", "POST", self._price_create),
            (r"/v1/prices", "GET", lambda p: self._list_kind("price", p, "/v1/prices")),
            (r"/v1/prices/([^/]+)", "GET", lambda p, i: self.get("price", i)),
            (r"/v1/prices/([^/]+)", "POST", lambda p, i: self._update_emit("price", i, p)),
            (r"/v1/customers", "POST", self._customer_create),
            (r"/v1/customers", "GET", lambda p: self._list_kind("customer", p, "/v1/customers")),
            (r"/v1/customers/([^/]+)", "GET", lambda p, i: self.get("customer", i)),
            (r"/v1/customers/([^/]+)", "POST", lambda p, i: self._update("customer", i, p)),
            (r"/v1/checkout/sessions", "POST", self._checkout_create),
            (r"/v1/checkout/sessions/([^/]+)", "GET", lambda p, i: self.get("checkout.session", i)),
            (r"/v1/billing_portal/sessions", "POST", self._portal_create),
            (r"/v1/subscriptions", "GET", self._subscription_list),
            (r"/v1/subscriptions/([^/]+)", "GET", lambda p, i: self.get("subscription", i)),
            (r"/v1/subscriptions/([^/]+)", "POST", self._subscription_update),
            (r"/v1/subscriptions/([^/]+)", "DELETE", self._subscription_cancel),
            (r"/v1/invoices", "GET", lambda p: self._list_kind("invoice", p, "/v1/invoices")),
            (r"/v1/invoices/([^/]+)", "GET", lambda p, i: self.get("invoice", i)),
            (r"/v1/invoices/([^/]+)/pay", "POST", lambda p, i: self.invoice_pay(i)),
            (r"/v1/events/([^/]+)", "GET", lambda p, i: self.get("event", i)),
        ]

    # --- lists -----------------------------------------------------------------------------
    @staticmethod
    def _list(data: list[StripeObject], url: str) -> StripeObject:
        return {"object": "list", "data": data, "has_more": False, "url": url}

    def _list_kind(self, kind: str, params: StripeObject, url: str) -> StripeObject:
        rows = self.of_kind(kind)
        for name in ("product", "customer", "subscription", "email"):
            if name in params:
                rows = [r for r in rows if r.get(name) == params[name]]
        if "active" in params:
            rows = [r for r in rows if r.get("active") == (params["active"] == "true")]
        rows.sort(key=lambda r: r["created"], reverse=True)
        limit = int(params.get("limit") or 10)
        if "starting_after" in params:
            ids = [r["id"] for r in rows]
            start = (
                ids.index(params["starting_after"]) + 1 if params["starting_after"] in ids else 0
            )
            rows = rows[start:]
        page = rows[:limit]
        listed = self._list(page, url)
        listed["has_more"] = len(rows) > limit
        return listed

    def _update(self, kind: str, object_id: str, params: StripeObject) -> StripeObject:
        obj = self.get(kind, object_id)
        metadata = params.pop("metadata", None)
        params.pop("expand", None)
        obj.update(params)
        if isinstance(metadata, dict):
            obj["metadata"] = {**obj["metadata"], **metadata}
        return obj

    def _update_emit(self, kind: str, object_id: str, params: StripeObject) -> StripeObject:
        """Update a product or price as Stripe does (`active`, `name`, ... ; booleans arrive as
        "true"/"false") and send `<kind>.updated`."""
        if "active" in params:
            params["active"] = params["active"] == "true"
        obj = self._update(kind, object_id, params)
        if kind == "product":
            obj["updated"] = int(time.time())
        self.emit(f"{kind}.updated", obj)
        return obj

    # --- products and prices ---------------------------------------------------------------
    def _product_create(self, params: StripeObject) -> StripeObject:
        if not params.get("name"):
            raise StripeError(400, "Missing required param: name.", param="name")
        features = params.get("marketing_features") or []
        return self.create(
            "product",
            "prod",
            name=params["name"],
            active=params.get("active", "true") == "true",
            description=params.get("description"),
            metadata=params.get("metadata") or {},
            marketing_features=[{"name": f.get("name", "")} for f in features],
            type="service",
            default_price=None,
            images=[],
            updated=int(time.time()),
        )

    def _product_features(self, params: StripeObject, product_id: str) -> StripeObject:
        self.get("product", product_id)
        return self._list([], f"/v1/products/{product_id}/features")

    def _price_create(self, params: StripeObject) -> StripeObject:
        product_id = params.get("product")
        if not product_id:
            raise StripeError(400, "Missing required param: product.", param="product")
        self.get("product", product_id)
        recurring = params.get("recurring") or {}
        return self.create(
            "price",
            "price",
            product=product_id,
            active=params.get("active", "true") == "true",
            currency=params.get("currency", "usd"),
            unit_amount=int(params.get("unit_amount") or 0),
            unit_amount_decimal=str(params.get("unit_amount") or 0),
            type="recurring" if recurring else "one_time",
            recurring=(
                {
                    "interval": recurring.get("interval", "month"),
                    "interval_count": int(recurring.get("interval_count") or 1),
                    "usage_type": "licensed",
                    "aggregate_usage": None,
                    "trial_period_days": None,
                }
                if recurring
                else None
            ),
            billing_scheme="per_unit",
            tax_behavior="unspecified",
            nickname=params.get("nickname"),
            lookup_key=params.get("lookup_key"),
            metadata=params.get("metadata") or {},
        )

    # --- customers, checkout, portal -------------------------------------------------------
    def _customer_create(self, params: StripeObject) -> StripeObject:
        return self.create(
            "customer",
            "cus",
            email=params.get("email"),
            name=params.get("name"),
            description=params.get("description"),
            metadata=params.get("metadata") or {},
            currency=None,
            balance=0,
            delinquent=False,
            invoice_prefix=secrets.token_hex(4).upper(),
            invoice_settings={"default_payment_method": None},
            default_source=None,
        )

    def _checkout_create(self, params: StripeObject) -> StripeObject:
        for required in ("success_url", "line_items"):
            if not params.get(required):
                raise StripeError(400, f"Missing required param: {required}.", param=required)
        items = params["line_items"]
        for item in items:
            self.get("price", item.get("price", ""))
        if params.get("customer"):
            self.get("customer", params["customer"])
        session = self.create(
            "checkout.session",
            "cs_test",
            mode=params.get("mode", "subscription"),
            status="open",
            payment_status="unpaid",
            customer=params.get("customer"),
            customer_email=params.get("customer_email"),
            client_reference_id=params.get("client_reference_id"),
            success_url=params["success_url"],
            cancel_url=params.get("cancel_url"),
            metadata=params.get("metadata") or {},
            subscription=None,
            allow_promotion_codes=params.get("allow_promotion_codes") == "true",
            automatic_tax={"enabled": (params.get("automatic_tax") or {}).get("enabled") == "true"},
            line_items_requested=[
                {"price": i["price"], "quantity": int(i.get("quantity") or 1)} for i in items
            ],
            subscription_data=params.get("subscription_data") or {},
        )
        session["url"] = f"{self.base_url}/checkout/{session['id']}"
        return session

    def _portal_create(self, params: StripeObject) -> StripeObject:
        customer = self.get("customer", params.get("customer", ""))
        portal = self.create(
            "billing_portal.session",
            "bps",
            customer=customer["id"],
            return_url=params.get("return_url"),
        )
        portal["url"] = f"{self.base_url}/checkout/portal/{portal['id']}"
        return portal

    # --- subscriptions and invoices --------------------------------------------------------
    def _subscription_list(self, params: StripeObject) -> StripeObject:
        listed = self._list_kind(
            "subscription", {**params, "limit": params.get("limit") or 100}, "/v1/subscriptions"
        )
        status = params.get("status")
        if status and status != "all":
            listed["data"] = [s for s in listed["data"] if s["status"] == status]
        elif not status:
            listed["data"] = [s for s in listed["data"] if s["status"] != "canceled"]
        return listed

    def subscription_create(
        self,
        *,
        customer: str,
        items: list[dict[str, Any]],
        metadata: dict[str, str],
        trial_days: int = 0,
    ) -> StripeObject:
        now = int(time.time())
        period_end = now + 30 * 86400
        subscription = self.create(
            "subscription",
            "sub",
            customer=customer,
            status="trialing" if trial_days else "active",
            metadata=metadata,
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            ended_at=None,
            current_period_start=now,
            current_period_end=period_end,
            start_date=now,
            trial_start=now if trial_days else None,
            trial_end=now + trial_days * 86400 if trial_days else None,
            collection_method="charge_automatically",
            currency="usd",
            latest_invoice=None,
            items=self._list([], "/v1/subscription_items"),
        )
        subscription["items"]["data"] = [
            {
                "id": self.new_id("si"),
                "object": "subscription_item",
                "created": now,
                "price": self.get("price", item["price"]),
                "quantity": item.get("quantity", 1),
                "subscription": subscription["id"],
                "metadata": {},
                "current_period_start": now,
                "current_period_end": period_end,
            }
            for item in items
        ]
        return subscription

    def _subscription_update(self, params: StripeObject, subscription_id: str) -> StripeObject:
        subscription = self.get("subscription", subscription_id)
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
            subscription["cancel_at"] = (
                subscription["current_period_end"] if subscription["cancel_at_period_end"] else None
            )
        for item in params.get("items") or []:
            for existing in subscription["items"]["data"]:
                if existing["id"] == item.get("id") and "quantity" in item:
                    existing["quantity"] = int(item["quantity"])
        if isinstance(params.get("metadata"), dict):
            subscription["metadata"] = {**subscription["metadata"], **params["metadata"]}
        self.emit("customer.subscription.updated", subscription)
        return subscription

    def _subscription_cancel(self, params: StripeObject, subscription_id: str) -> StripeObject:
        subscription = self.get("subscription", subscription_id)
        now = int(time.time())
        subscription.update(status="canceled", canceled_at=now, ended_at=now)
        self.emit("customer.subscription.deleted", subscription)
        return subscription

    @staticmethod
    def _amount(subscription: StripeObject) -> int:
        """What one period of the subscription costs, in cents."""
        return sum(
            int(i["price"]["unit_amount"]) * int(i["quantity"])
            for i in subscription["items"]["data"]
        )

    def invoice_paid(self, subscription: StripeObject) -> StripeObject:
        amount = self._amount(subscription)
        invoice = self.create(
            "invoice",
            "in",
            customer=subscription["customer"],
            subscription=subscription["id"],
            status="paid",
            paid=True,
            amount_due=amount,
            amount_paid=amount,
            amount_remaining=0,
            total=amount,
            subtotal=amount,
            currency="usd",
            number=f"SANDBOX-{next(self._counter):04d}",  # type: ignore[call-overload]
            hosted_invoice_url=None,
            invoice_pdf=None,
            period_start=subscription["current_period_start"],
            period_end=subscription["current_period_end"],
            billing_reason="subscription_create",
        )
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def invoice_fail(self, subscription_id: str) -> StripeObject:
        """A renewal whose charge fails: an open invoice, the subscription past_due, and the
        events Stripe sends (`invoice.payment_failed`, `customer.subscription.updated`)."""
        subscription = self.get("subscription", subscription_id)
        amount = self._amount(subscription)
        invoice = self.create(
            "invoice",
            "in",
            customer=subscription["customer"],
            subscription=subscription["id"],
            status="open",
            paid=False,
            attempted=True,
            attempt_count=1,
            amount_due=amount,
            amount_paid=0,
            amount_remaining=amount,
            total=amount,
            subtotal=amount,
            currency="usd",
            number=f"SANDBOX-{next(self._counter):04d}",  # type: ignore[call-overload]
            hosted_invoice_url=f"{self.base_url}/checkout/invoice",
            invoice_pdf=None,
            period_start=subscription["current_period_start"],
            period_end=subscription["current_period_end"],
            billing_reason="subscription_cycle",
        )
        subscription.update(status="past_due", latest_invoice=invoice["id"])
        self.emit("invoice.payment_failed", invoice)
        self.emit("customer.subscription.updated", subscription)
        return invoice

    def invoice_pay(self, invoice_id: str) -> StripeObject:
        """`POST /v1/invoices/{id}/pay`: the open invoice is paid; a past_due subscription is
        active again (`invoice.paid`, `invoice.payment_succeeded`, and the subscription's
        `customer.subscription.updated` when its status changed)."""
        invoice = self.get("invoice", invoice_id)
        if invoice["status"] == "paid":
            raise StripeError(400, "Invoice is already paid", code="invoice_already_paid")
        invoice.update(
            status="paid", paid=True, amount_paid=invoice["amount_due"], amount_remaining=0
        )
        self.emit("invoice.paid", invoice)
        self.emit("invoice.payment_succeeded", invoice)
        subscription = self.objects.get(invoice.get("subscription") or "")
        if subscription is not None and subscription["status"] in ("past_due", "unpaid"):
            subscription["status"] = "active"
            self.emit("customer.subscription.updated", subscription)
        return invoice

    # --- the hosted checkout stand-in ------------------------------------------------------
    def checkout_pay(self, session_id: str) -> StripeObject:
        """What paying on Stripe's hosted page does: a customer if none, the subscription, a
        paid invoice, and the events, in Stripe's order."""
        session = self.get("checkout.session", session_id)
        if session["status"] != "open":
            raise StripeError(400, "This Checkout Session is no longer active.")
        if not session["customer"]:
            session["customer"] = self._customer_create({"email": session["customer_email"]})["id"]
        subscription = self.subscription_create(
            customer=session["customer"],
            items=session["line_items_requested"],
            metadata=session["metadata"],
            trial_days=int((session["subscription_data"] or {}).get("trial_period_days") or 0),
        )
        invoice = self.invoice_paid(subscription)
        session.update(status="complete", payment_status="paid", subscription=subscription["id"])
        self.emit("checkout.session.completed", session)
        self.emit("customer.subscription.created", subscription)
        self.emit("invoice.paid", invoice)
        return session

    def _hosted(self, method: str, path: str, start_response: StartResponse) -> list[bytes]:
        match = re.fullmatch(r"/checkout/(cs_test_[A-Za-z0-9]+)(/pay)?", path)
        if match is None:  # the portal stand-in, or anything else: a plain page
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [b"<!doctype html><title>Sandbox</title><p>Keel's Stripe sandbox.</p>"]
        session = self.get("checkout.session", match[1])
        if method == "POST" and match[2]:
            self.checkout_pay(match[1])
            # As Stripe does, the placeholder in the success URL becomes the session's id.
            location = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
            start_response("303 See Other", [("Location", location)])
            return [b""]
        price = self.get("price", session["line_items_requested"][0]["price"])
        product = self.get("product", price["product"])
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Sandbox checkout</title>"
            "</head><body><h1>Sandbox checkout</h1>"
            f"<p data-testid='sandbox-product'>{html.escape(product['name'])}: "
            f"{price['unit_amount'] / 100:.2f} {html.escape(price['currency'].upper())}</p>"
            f"<form method='post' action='/checkout/{session['id']}/pay'>"
            "<button type='submit' data-testid='sandbox-pay'>Pay (sandbox)</button></form>"
            f"<p><a href='{html.escape(session['cancel_url'] or '/')}'>Cancel</a></p>"
            "</body></html>"
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]

    # --- events ----------------------------------------------------------------------------
    def emit(self, event_type: str, obj: StripeObject) -> StripeObject:
        event = self.create(
            "event",
            "evt",
            type=event_type,
            api_version="2024-06-20",
            data={"object": json.loads(json.dumps(obj))},
            pending_webhooks=1,
            request={"id": None, "idempotency_key": None},
            account=self.account_id,
        )
        self.events.append(event)
        if self.webhook_url:
            self._outbox.put(event)
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_forever, name="stripe-fake-webhooks", daemon=True
                )
                self._sender.start()
        return event

    def _send_forever(self) -> None:
        """Deliver queued events one by one, in order, from this thread: never inside the
        request that caused them, which holds the fake while Keel's handler calls back."""
        while True:
            event = self._outbox.get()
            try:
                for attempt in range(max(1, self.delivery_attempts)):
                    if 200 <= self.deliver(event) < 300:
                        break
                    if attempt + 1 < self.delivery_attempts:
                        time.sleep(2**attempt)
            finally:
                self._outbox.task_done()

    def flush(self) -> None:
        """Wait until every event emitted so far has been delivered (or given up on)."""
        self._outbox.join()

    def deliver(self, event: StripeObject) -> int:
        """POST one event to the webhook URL, signed as Stripe signs it; returns the status."""
        payload = json.dumps(event).encode()
        request = urllib.request.Request(  # noqa: S310 (the configured webhook URL)
            self.webhook_url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(payload, self.webhook_secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        with self._lock:
            self.deliveries.append((event["id"], status))
        return status
