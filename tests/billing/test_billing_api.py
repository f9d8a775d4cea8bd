"""The billing routes (contract §5.2, §4.2) against the Stripe fake over HTTP: config, plans from
the mirror, checkout, portal, the subscription, their 400/409/502/503 answers and the org
routes' owner-only rules. Nothing of Keel's is mocked."""

from __future__ import annotations

import pytest
import stripe
from djstripe.models import Customer, Subscription

from accounts.models import Role
from billing.services import catalogue_sync, customer_refresh
from organizations.models import Organization, OrgRole
from security.models import AuditLog
from tests.factories import MembershipFactory, UserFactory
from tests.organizations.conftest import make_key
from tests.stripe_sandbox import PUBLISHABLE_KEY

pytestmark = pytest.mark.django_db

CHECKOUT = "/api/v1/billing/checkout"
PORTAL = "/api/v1/billing/portal"
SUBSCRIPTION = "/api/v1/billing/subscription"
ORG_BILLING = "/api/v1/organizations/acme/billing"


def checkout(client, price_id, url=CHECKOUT):
    return client.post(url, {"price_id": price_id}, format="json")


def posts(sandbox, path):
    return [p for m, p in sandbox.fake.requests if m == "POST" and p == path]


@pytest.fixture
def dave(acme):
    user = UserFactory(email="dave@example.com", name="Dave Admin")
    MembershipFactory(organization=acme, user=user, role=OrgRole.ADMIN)
    return user


def assert_error(response, status, error, message=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] == error and body["code"] == status
    if message is not None:
        assert body["message"] == message
    return body


# --- config and plans -----------------------------------------------------------------------


def test_config_answers_with_billing_off_and_says_so(api, db):
    response = api.get("/api/v1/billing/config")
    assert response.status_code == 200
    assert response.json() == {"publishable_key": "", "enabled": False}


def test_config_with_billing_on(api, sandbox):
    response = api.get("/api/v1/billing/config")
    assert response.json() == {"publishable_key": PUBLISHABLE_KEY, "enabled": True}


def test_plans_come_from_the_mirror_without_calling_stripe(api, sandbox):
    sandbox.fake.requests.clear()
    response = api.get("/api/v1/billing/plans")
    assert response.status_code == 200
    assert sandbox.fake.requests == []
    assert response.json() == [
        {
            "id": sandbox.prices["pro"],
            "price_id": sandbox.prices["pro"],
            "name": "Pro",
            "description": "",
            "amount": 1900,
            "currency": "usd",
            "interval": "month",
            "features": ["25 seats", "Priority support"],  # marketing_features
            "plan": "pro",
        },
        {
            "id": sandbox.prices["enterprise"],
            "price_id": sandbox.prices["enterprise"],
            "name": "Enterprise",
            "description": "",
            "amount": 9900,
            "currency": "usd",
            "interval": "month",
            "features": ["Unlimited seats", "SSO", "Audit exports"],  # `features` metadata
            "plan": "enterprise",
        },
    ]


def test_plans_are_sorted_by_amount_and_skip_inactive_and_one_time_prices(api, sandbox):
    fake = sandbox.fake
    starter = sandbox.product("Starter", 500, metadata={"plan": "pro"})
    retired = sandbox.product("Retired", 100)
    fake.objects[retired]["active"] = False
    hidden = sandbox.product("Hidden", 200)
    fake.objects[fake.objects[hidden]["product"]]["active"] = False
    one_time = fake.dispatch(
        "POST",
        "/v1/prices",
        {"product": fake.objects[starter]["product"], "unit_amount": "50", "currency": "usd"},
    )
    catalogue_sync()
    plans = api.get("/api/v1/billing/plans").json()
    assert [p["price_id"] for p in plans] == [
        starter,
        sandbox.prices["pro"],
        sandbox.prices["enterprise"],
    ]
    assert one_time["id"] not in {p["id"] for p in plans}
    assert plans[0]["plan"] == "pro"  # from the product's `plan` metadata


def test_plans_need_billing(api, db):
    assert_error(
        api.get("/api/v1/billing/plans"), 503, "BILLING_DISABLED", "Billing is not configured"
    )


# --- personal checkout ------------------------------------------------------------------------


def test_checkout_session_carries_price_urls_metadata_and_reference(
    sandbox, settings, as_user, alice
):
    response = checkout(as_user(alice), sandbox.prices["pro"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"session_id", "url"}
    session = sandbox.fake.objects[body["session_id"]]
    assert body["url"] == session["url"]
    assert session["mode"] == "subscription"
    assert session["line_items_requested"] == [{"price": sandbox.prices["pro"], "quantity": 1}]
    frontend = settings.FRONTEND_URL
    assert session["success_url"] == (
        f"{frontend}/billing/success?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert session["cancel_url"] == f"{frontend}/billing/cancel"
    assert session["client_reference_id"] == f"user:{alice.pk}"
    metadata = {"keel_subscriber": f"user:{alice.pk}", "keel_user_id": str(alice.pk)}
    assert session["metadata"] == metadata
    assert session["subscription_data"] == {"metadata": metadata}  # no trial by default
    assert session["allow_promotion_codes"] is False
    assert session["automatic_tax"] == {"enabled": False}
    customer = sandbox.fake.objects[session["customer"]]
    assert customer["email"] == alice.email
    assert customer["metadata"]["keel_subscriber"] == f"user:{alice.pk}"
    assert Customer.objects.get(subscriber=alice).id == customer["id"]
    assert AuditLog.objects.filter(
        action="billing_checkout_start", target_id=str(alice.pk)
    ).exists()


def test_the_customer_is_created_once_and_reused_after_an_abandoned_checkout(
    sandbox, as_user, alice
):
    client = as_user(alice)
    first = checkout(client, sandbox.prices["pro"]).json()
    second = checkout(client, sandbox.prices["enterprise"])  # the first was never paid
    assert second.status_code == 200, second.content
    sessions = sandbox.fake.objects
    assert (
        sessions[first["session_id"]]["customer"]
        == sessions[second.json()["session_id"]]["customer"]
    )
    assert len(posts(sandbox, "/v1/customers")) == 1
    assert len(sandbox.fake.of_kind("customer")) == 1
    assert Customer.objects.filter(subscriber=alice).count() == 1


def test_configured_urls_keep_their_query(sandbox, settings, as_user, alice):
    settings.STRIPE_SUCCESS_URL = "https://app.example/done?from=pricing"
    settings.STRIPE_CANCEL_URL = "https://app.example/pricing"
    session_id = checkout(as_user(alice), sandbox.prices["pro"]).json()["session_id"]
    session = sandbox.fake.objects[session_id]
    assert session["success_url"] == (
        "https://app.example/done?from=pricing&session_id={CHECKOUT_SESSION_ID}"
    )
    assert session["cancel_url"] == "https://app.example/pricing"


def test_trial_days_promotion_codes_and_automatic_tax_follow_the_settings(
    sandbox, settings, as_user, alice
):
    settings.STRIPE_TRIAL_DAYS_PRO = 14
    settings.STRIPE_ALLOW_PROMOTION_CODES = True
    settings.STRIPE_AUTOMATIC_TAX = True
    client = as_user(alice)
    session_id = checkout(client, sandbox.prices["pro"]).json()["session_id"]
    session = sandbox.fake.objects[session_id]
    assert session["subscription_data"]["trial_period_days"] == "14"
    assert session["allow_promotion_codes"] is True
    assert session["automatic_tax"] == {"enabled": True}

    sandbox.pay(session_id)
    subscription = client.get(SUBSCRIPTION).json()
    assert subscription["status"] == "trialing" and subscription["plan"] == "pro"
    alice.refresh_from_db()
    assert alice.role == Role.PREMIUM  # trialing is live


def test_the_trial_is_per_plan(sandbox, settings, as_user, alice):
    settings.STRIPE_TRIAL_DAYS_PRO = 14
    session_id = checkout(as_user(alice), sandbox.prices["enterprise"]).json()["session_id"]
    assert "trial_period_days" not in sandbox.fake.objects[session_id]["subscription_data"]


def test_the_trial_is_for_a_first_subscription_only(sandbox, settings, as_user, alice):
    settings.STRIPE_TRIAL_DAYS_PRO = 14
    client = as_user(alice)
    sandbox.pay(checkout(client, sandbox.prices["pro"]).json()["session_id"])
    stripe.Subscription.cancel(Subscription.objects.get().id)
    sandbox.deliver_new()
    assert client.get(SUBSCRIPTION).json()["status"] == "canceled"
    session_id = checkout(client, sandbox.prices["pro"]).json()["session_id"]
    assert "trial_period_days" not in sandbox.fake.objects[session_id]["subscription_data"]


def test_a_customer_create_retried_after_a_rollback_gets_the_same_customer(sandbox):
    """Keel sends an idempotency key with the customer's creation (made of the subscriber and
    the parameters), as Stripe honours it for 24 hours; the fake honours it too."""
    first = stripe.Customer.create(email="a@example.com", idempotency_key="keel-customer-x")
    again = stripe.Customer.create(email="a@example.com", idempotency_key="keel-customer-x")
    other = stripe.Customer.create(email="a@example.com", idempotency_key="keel-customer-y")
    assert first.id == again.id != other.id


def test_a_personal_checkout_is_one_seat_even_for_a_per_seat_price(
    sandbox, settings, as_user, alice
):
    settings.STRIPE_PER_SEAT_PRICE_IDS = [sandbox.prices["pro"]]
    session_id = checkout(as_user(alice), sandbox.prices["pro"]).json()["session_id"]
    assert sandbox.fake.objects[session_id]["line_items_requested"][0]["quantity"] == 1


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({}, "VALIDATION_ERROR", None),
        ({"price_id": "price_nope"}, "BAD_REQUEST", "price_id: Unknown or inactive price"),
    ],
)
def test_checkout_refuses_a_missing_or_unknown_price(sandbox, as_user, alice, body, error, message):
    response = as_user(alice).post(CHECKOUT, body, format="json")
    assert_error(response, 400, error, message)
    assert not Customer.objects.exists()
    assert posts(sandbox, "/v1/checkout/sessions") == []


def test_checkout_refuses_an_inactive_price_or_product(sandbox, as_user, alice):
    fake = sandbox.fake
    fake.objects[sandbox.prices["pro"]]["active"] = False
    fake.objects[fake.objects[sandbox.prices["enterprise"]]["product"]]["active"] = False
    catalogue_sync()
    client = as_user(alice)
    for price in sandbox.prices.values():
        assert_error(
            checkout(client, price), 400, "BAD_REQUEST", "price_id: Unknown or inactive price"
        )
    assert posts(sandbox, "/v1/customers") == []


def test_checkout_is_409_while_a_live_subscription_exists(sandbox, as_user, alice):
    client = as_user(alice)
    sandbox.pay(checkout(client, sandbox.prices["pro"]).json()["session_id"])
    sandbox.fake.requests.clear()
    body = assert_error(checkout(client, sandbox.prices["enterprise"]), 409, "CONFLICT")
    assert "billing portal" in body["message"]
    assert posts(sandbox, "/v1/checkout/sessions") == []


def test_checkout_is_allowed_again_once_the_subscription_ended(sandbox, as_user, alice):
    client = as_user(alice)
    sandbox.pay(checkout(client, sandbox.prices["pro"]).json()["session_id"])
    subscription = Subscription.objects.get()
    stripe.Subscription.cancel(subscription.id)
    sandbox.deliver_new()
    response = checkout(client, sandbox.prices["pro"])
    assert response.status_code == 200, response.content
    assert len(sandbox.fake.of_kind("customer")) == 1


def test_a_stripe_failure_creating_the_customer_is_502_and_stores_nothing(sandbox, as_user, alice):
    sandbox.fake.failures.append((r"^/v1/customers$", 500))
    body = assert_error(checkout(as_user(alice), sandbox.prices["pro"]), 502, "INTERNAL_ERROR")
    assert "payment provider" in body["message"]
    assert not Customer.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="billing_").exists()
    assert posts(sandbox, "/v1/checkout/sessions") == []


def test_a_refused_checkout_session_is_502_and_the_retry_reuses_the_customer(
    sandbox, as_user, alice
):
    sandbox.fake.failures.append((r"^/v1/checkout/sessions$", 400))
    client = as_user(alice)
    body = assert_error(checkout(client, sandbox.prices["pro"]), 502, "INTERNAL_ERROR")
    assert body["message"].startswith("The payment provider refused the request")
    assert not AuditLog.objects.filter(action="billing_checkout_start").exists()
    # The customer exists at Stripe and is kept: the next attempt does not make a second one.
    assert checkout(client, sandbox.prices["pro"]).status_code == 200
    assert len(sandbox.fake.of_kind("customer")) == 1


def test_an_unreachable_stripe_is_502(sandbox, settings, as_user, alice):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    body = assert_error(checkout(as_user(alice), sandbox.prices["pro"]), 502, "INTERNAL_ERROR")
    assert "could not be reached" in body["message"]
    assert not Customer.objects.exists()


def test_an_org_checkout_failure_leaves_the_org_without_a_customer(sandbox, as_user, alice, acme):
    sandbox.fake.failures.append((r"^/v1/customers$", 503))
    url = f"{ORG_BILLING}/checkout"
    assert_error(checkout(as_user(alice), sandbox.prices["pro"], url), 502, "INTERNAL_ERROR")
    acme.refresh_from_db()
    assert acme.stripe_customer_id in (None, "")
    assert not Customer.objects.exists()
    assert not AuditLog.objects.filter(action="organization_billing_change").exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", CHECKOUT),
        ("post", PORTAL),
        ("post", f"{ORG_BILLING}/checkout"),
        ("post", f"{ORG_BILLING}/portal"),
    ],
)
def test_routes_that_need_stripe_are_503_with_billing_off(as_user, alice, acme, method, url):
    response = getattr(as_user(alice), method)(url, {"price_id": "price_x"}, format="json")
    assert_error(response, 503, "BILLING_DISABLED", "Billing is not configured")
    assert not Customer.objects.exists()


def test_the_key_alone_does_not_turn_billing_on(sandbox, settings, as_user, alice, api):
    settings.STRIPE_ENABLED = False
    assert_error(checkout(as_user(alice), sandbox.prices["pro"]), 503, "BILLING_DISABLED")
    assert api.get("/api/v1/billing/config").json()["enabled"] is False
    assert posts(sandbox, "/v1/customers") == []


def test_checkout_needs_a_signed_in_user(api, sandbox):
    assert checkout(api, sandbox.prices["pro"]).status_code == 401


# --- portal and subscription ------------------------------------------------------------------


def test_the_portal_needs_a_customer(sandbox, as_user, alice):
    assert_error(as_user(alice).post(PORTAL), 400, "BAD_REQUEST", "You have no billing account yet")
    assert posts(sandbox, "/v1/billing_portal/sessions") == []


def test_the_portal_opens_for_the_users_customer(sandbox, settings, as_user, alice):
    client = as_user(alice)
    checkout(client, sandbox.prices["pro"])
    response = client.post(PORTAL)
    assert response.status_code == 200, response.content
    url = response.json()["url"]
    portal = next(o for o in sandbox.fake.of_kind("billing_portal.session") if o["url"] == url)
    assert portal["customer"] == Customer.objects.get(subscriber=alice).id
    assert portal["return_url"] == settings.STRIPE_PORTAL_RETURN_URL


def test_the_portal_failing_at_stripe_is_502(sandbox, as_user, alice):
    client = as_user(alice)
    checkout(client, sandbox.prices["pro"])
    sandbox.fake.failures.append((r"/v1/billing_portal/sessions", 500))
    assert_error(client.post(PORTAL), 502, "INTERNAL_ERROR")


def test_no_subscription_is_404(sandbox, as_user, alice):
    assert_error(as_user(alice).get(SUBSCRIPTION), 404, "NOT_FOUND", "No subscription found")


def test_no_subscription_is_404_with_billing_off_too(as_user, alice):
    assert_error(as_user(alice).get(SUBSCRIPTION), 404, "NOT_FOUND")


def test_the_subscription_shows_the_live_one_before_newer_ended_ones(sandbox, as_user, alice):
    client = as_user(alice)
    sandbox.pay(checkout(client, sandbox.prices["pro"]).json()["session_id"])
    live = Subscription.objects.get()
    customer_id = str(live.customer_id)
    ended = sandbox.fake.subscription_create(
        customer=customer_id,
        items=[{"price": sandbox.prices["enterprise"], "quantity": 1}],
        metadata={},
    )
    ended["created"] += 60  # newer than the live one
    ended.update(status="canceled", canceled_at=ended["created"], ended_at=ended["created"])
    customer_refresh(customer_id=customer_id, source="test")
    assert Subscription.objects.count() == 2

    body = client.get(SUBSCRIPTION).json()
    assert body["stripe_subscription_id"] == live.id
    assert body["status"] == "active" and body["plan"] == "pro"
    assert body["user_id"] == alice.pk and body["organization_id"] is None
    assert body["cancel_at_period_end"] is False and body["canceled_at"] is None
    assert body["current_period_end"] > body["current_period_start"]

    stripe.Subscription.cancel(live.id)
    sandbox.deliver_new()
    body = client.get(SUBSCRIPTION).json()  # none live: the latest
    assert body["stripe_subscription_id"] == ended["id"]
    assert body["status"] == "canceled" and body["canceled_at"] is not None


# --- organization routes ------------------------------------------------------------------------


def test_org_billing_is_local_data_and_answers_with_billing_off(as_user, alice, acme):
    response = as_user(alice).get(ORG_BILLING)
    assert response.status_code == 200, response.content
    assert response.json()["data"] == {
        "plan": "free",
        "has_subscription": False,
        "subscription": None,
        "seat_limit": 5,
        "seat_count": 2,
        "stripe_customer_id": None,
    }


def test_org_billing_does_not_call_stripe(sandbox, as_user, alice, acme):
    sandbox.pay(
        checkout(as_user(alice), sandbox.prices["pro"], f"{ORG_BILLING}/checkout").json()["data"][
            "session_id"
        ]
    )
    sandbox.fake.requests.clear()
    data = as_user(alice).get(ORG_BILLING).json()["data"]
    assert sandbox.fake.requests == []
    acme.refresh_from_db()
    assert data["stripe_customer_id"] == acme.stripe_customer_id
    assert data["subscription"]["stripe_subscription_id"] == acme.stripe_subscription_id


def test_org_checkout_creates_the_orgs_customer_from_the_acting_owner(
    sandbox, as_user, alice, acme
):
    response = checkout(as_user(alice), sandbox.prices["pro"], f"{ORG_BILLING}/checkout")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] == "Checkout session created"
    session = sandbox.fake.objects[body["data"]["session_id"]]
    assert session["client_reference_id"] == f"org:{acme.pk}"
    assert session["metadata"]["keel_subscriber"] == f"org:{acme.pk}"
    acme.refresh_from_db()
    assert session["customer"] == acme.stripe_customer_id
    customer = sandbox.fake.objects[acme.stripe_customer_id]
    assert (customer["email"], customer["name"]) == (alice.email, "Acme")
    assert customer["metadata"]["keel_organization_slug"] == "acme"
    # The org's customer is not alice's personal one.
    assert Customer.objects.get(id=acme.stripe_customer_id).subscriber is None
    assert checkout(as_user(alice), sandbox.prices["pro"]).status_code == 200
    assert len(sandbox.fake.of_kind("customer")) == 2


def test_org_checkout_quantity_is_the_active_member_count_for_a_per_seat_price(
    sandbox, settings, as_user, alice, acme, dave
):
    settings.STRIPE_PER_SEAT_PRICE_IDS = [sandbox.prices["pro"]]
    client = as_user(alice)
    session_id = checkout(client, sandbox.prices["pro"], f"{ORG_BILLING}/checkout").json()["data"][
        "session_id"
    ]
    assert sandbox.fake.objects[session_id]["line_items_requested"][0]["quantity"] == 3
    other = checkout(client, sandbox.prices["enterprise"], f"{ORG_BILLING}/checkout")
    other_id = other.json()["data"]["session_id"]
    assert sandbox.fake.objects[other_id]["line_items_requested"][0]["quantity"] == 1
    assert len(posts(sandbox, "/v1/customers")) == 1


def test_org_checkout_is_409_while_the_org_has_a_live_subscription(sandbox, as_user, alice, acme):
    client = as_user(alice)
    url = f"{ORG_BILLING}/checkout"
    sandbox.pay(checkout(client, sandbox.prices["pro"], url).json()["data"]["session_id"])
    body = assert_error(checkout(client, sandbox.prices["enterprise"], url), 409, "CONFLICT")
    assert body["message"].startswith("The organization already has a subscription")
    # The personal checkout of the same owner is not blocked by the org's subscription.
    assert checkout(client, sandbox.prices["pro"]).status_code == 200


def test_org_portal(sandbox, settings, as_user, alice, acme):
    client = as_user(alice)
    assert_error(
        client.post(f"{ORG_BILLING}/portal"),
        400,
        "BAD_REQUEST",
        "The organization has no billing account yet",
    )
    checkout(client, sandbox.prices["pro"], f"{ORG_BILLING}/checkout")
    response = client.post(f"{ORG_BILLING}/portal")
    assert response.status_code == 200, response.content
    url = response.json()["data"]["url"]
    acme.refresh_from_db()
    portal = next(o for o in sandbox.fake.of_kind("billing_portal.session") if o["url"] == url)
    assert portal["customer"] == acme.stripe_customer_id


@pytest.mark.parametrize(
    ("caller", "get", "checkout_status", "portal_status"),
    [
        ("owner", 200, 200, 400),  # 400: no customer yet, the owner got through
        ("admin", 200, 403, 403),
        ("member", 403, 403, 403),
        ("outsider", 404, 404, 404),
    ],
)
def test_org_billing_roles(
    sandbox, as_user, alice, bob, charlie, dave, acme, caller, get, checkout_status, portal_status
):
    user = {"owner": alice, "admin": dave, "member": bob, "outsider": charlie}[caller]
    client = as_user(user)
    assert client.get(ORG_BILLING).status_code == get
    if caller == "outsider":
        assert client.get(ORG_BILLING).json()["message"] == "Organization not found"
    assert client.post(f"{ORG_BILLING}/portal").status_code == portal_status
    assert (
        checkout(client, sandbox.prices["pro"], f"{ORG_BILLING}/checkout").status_code
        == checkout_status
    )
    if checkout_status != 200:
        acme.refresh_from_db()
        assert not acme.stripe_customer_id
        assert posts(sandbox, "/v1/customers") == []


@pytest.mark.parametrize(
    ("key_of", "role", "get", "write"),
    [
        ("acme", OrgRole.ADMIN, 200, 403),
        ("acme", OrgRole.MEMBER, 403, 403),
        ("globex", OrgRole.ADMIN, 404, 404),
    ],
)
def test_org_billing_with_api_keys(sandbox, api, acme, globex, key_of, role, get, write):
    _, raw = make_key({"acme": acme, "globex": globex}[key_of], role)
    api.credentials(HTTP_X_API_KEY=raw)
    assert api.get(ORG_BILLING).status_code == get
    assert checkout(api, sandbox.prices["pro"], f"{ORG_BILLING}/checkout").status_code == write
    assert api.post(f"{ORG_BILLING}/portal").status_code == write
    assert posts(sandbox, "/v1/customers") == []


def test_personal_routes_refuse_an_org_api_key(sandbox, api, acme):
    _, raw = make_key(acme, OrgRole.ADMIN)
    api.credentials(HTTP_X_API_KEY=raw)
    assert checkout(api, sandbox.prices["pro"]).status_code in (401, 403)
    assert api.get(SUBSCRIPTION).status_code in (401, 403)


def test_a_deleted_org_has_no_billing(sandbox, as_user, alice, acme):
    Organization.objects.filter(pk=acme.pk).update(deleted_at="2024-01-01T00:00:00Z")
    assert as_user(alice).get(ORG_BILLING).status_code == 404


def test_staff_roles_do_not_change_on_personal_checkout(sandbox, as_user, staff):
    client = as_user(staff)
    sandbox.pay(checkout(client, sandbox.prices["pro"]).json()["session_id"])
    staff.refresh_from_db()
    assert staff.role == Role.ADMIN
    assert client.get(SUBSCRIPTION).json()["status"] == "active"
