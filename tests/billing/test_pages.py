"""Billing pages (contract §0.1 `/billing`, §5): pricing, the user's billing, Checkout's return
pages, an organization's billing, and the "Payment failed" banner — against the Stripe fake
over HTTP (tests/stripe_sandbox.py), with the Django test client. Nothing of Keel's is mocked.

The cast: alice owns acme, bob is a member, dave its admin, charlie an outsider (owner of
globex)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from djstripe.models import Subscription

from billing.context_processors import billing_alerts
from organizations.models import OrgRole
from tests.factories import MembershipFactory, UserFactory
from tests.test_account_pages import assert_keel_html

pytestmark = pytest.mark.django_db

STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)


@pytest.fixture
def dave(acme):
    user = UserFactory(email="dave@example.com", name="Dave Admin")
    MembershipFactory(organization=acme, user=user, role=OrgRole.ADMIN)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(response, status: int = 200) -> str:
    assert response.status_code == status, (response.status_code, response.content[:800])
    html = response.content.decode()
    assert_keel_html(html)
    assert not STYLE_ATTR.search(html), STYLE_ATTR.search(html)  # CSP: no style attributes
    return html


def has_testid(html: str, name: str) -> bool:
    return f'data-testid="{name}"' in html


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def checkout_personal(client: Client, price_id: str, back: str = "billing"):
    return client.post("/billing/checkout", {"price_id": price_id, "back": back})


def checkout_org(client: Client, price_id: str, slug: str = "acme", back: str = "org_billing"):
    return client.post(f"/org/{slug}/billing/checkout", {"price_id": price_id, "back": back})


def session_of(sandbox, response) -> dict:
    """The fake's checkout session a 303 to the hosted checkout page points at."""
    assert response.status_code == 303, (response.status_code, response.content[:500])
    location = response["Location"]
    assert location.startswith(sandbox.url + "/checkout/cs_test_"), location
    return sandbox.fake.objects[location.rsplit("/", 1)[1]]


def pay_org(sandbox, owner, slug: str = "acme", plan: str = "pro") -> str:
    session = session_of(sandbox, checkout_org(signed_in(owner), sandbox.prices[plan], slug))
    sandbox.pay(session["id"])
    return str(sandbox.fake.objects[session["id"]]["subscription"])


def pay_personal(sandbox, user, plan: str = "pro") -> str:
    session = session_of(sandbox, checkout_personal(signed_in(user), sandbox.prices[plan]))
    sandbox.pay(session["id"])
    return str(sandbox.fake.objects[session["id"]]["subscription"])


def fail_renewal(sandbox, subscription_id: str) -> None:
    sandbox.fake.invoice_fail(subscription_id)
    sandbox.deliver_new()


# --- Pricing ------------------------------------------------------------------------------------


def test_pricing_shows_the_mirrors_plans_to_anyone_with_a_sign_in_link(sandbox, client):
    html = page(client.get("/pricing"))
    for plan in ("free", "pro", "enterprise"):
        assert has_testid(html, f"plan-card-{plan}")
    assert "$19.00" in html and "$99.00" in html
    assert "Priority support" in html and "Audit exports" in html  # features of both kinds
    assert "5 seats per organization" in html  # the free plan's, from the catalogue
    assert "25 seats" in html and "Unlimited seats" in html  # the products' own features
    assert has_testid(html, "signin-to-subscribe-pro")
    assert "/billing/checkout" not in html
    assert has_testid(html, "nav-pricing")


def test_pricing_marks_the_plan_and_offers_personal_and_owned_org_checkouts(
    sandbox, alice, bob, acme
):
    html = page(signed_in(alice).get("/pricing"))
    assert has_testid(html, "current-plan-free")
    assert not has_testid(html, "current-plan-pro")
    for plan in ("pro", "enterprise"):
        assert has_testid(html, f"checkout-personal-{plan}")
        assert has_testid(html, f"checkout-org-acme-{plan}")
    assert sandbox.prices["pro"] in html
    # bob is only a member of acme: no way to subscribe it.
    html = page(signed_in(bob).get("/pricing"))
    assert has_testid(html, "checkout-personal-pro")
    assert not has_testid(html, "checkout-org-acme-pro")


def test_pricing_after_paying_marks_pro_and_the_org_on_it(sandbox, alice, acme):
    pay_personal(sandbox, alice)
    pay_org(sandbox, alice)
    html = page(signed_in(alice).get("/pricing"))
    assert has_testid(html, "current-plan-pro")
    assert not has_testid(html, "checkout-personal-enterprise")  # changes go through the portal
    assert has_testid(html, "change-personal-enterprise")
    assert has_testid(html, "org-current-acme-pro")
    assert has_testid(html, "change-org-acme-enterprise")


# --- /billing -------------------------------------------------------------------------------------


def test_billing_needs_a_sign_in(client):
    response = client.get("/billing")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/billing")


def test_billing_renders_with_billing_disabled(alice, acme):
    """No fake, billing off: the page shows local data and says billing is not configured."""
    html = page(signed_in(alice).get("/billing"))
    assert has_testid(html, "billing-disabled")
    assert "Billing is not configured" in html
    assert has_testid(html, "no-invoices")
    assert not has_testid(html, "checkout-personal-pro")
    assert not has_testid(html, "portal-submit")
    html = page(signed_in(alice).get("/pricing"))
    assert has_testid(html, "billing-disabled")
    html = page(signed_in(alice).get("/org/acme/billing"))
    assert has_testid(html, "billing-disabled")
    assert re.search(r'data-testid="billing-plan"[^>]*>Free<', html)


def test_checkout_with_billing_disabled_is_a_message_not_an_error(alice, acme):
    client = signed_in(alice)
    response = checkout_personal(client, "price_whatever")
    assert response.status_code == 302 and response["Location"] == "/billing"
    assert flashed(response) == ["Billing is not configured"]
    response = checkout_org(client, "price_whatever")
    assert response.status_code == 302 and response["Location"] == "/org/acme/billing"
    html = page(client.get("/org/acme/billing"))
    assert "Billing is not configured" in html
    response = client.post("/billing/portal")
    assert response.status_code == 302
    assert flashed(response) == ["Billing is not configured"]


def test_personal_checkout_redirects_to_the_fakes_hosted_page(sandbox, alice):
    response = checkout_personal(signed_in(alice), sandbox.prices["pro"])
    session = session_of(sandbox, response)
    assert session["client_reference_id"] == f"user:{alice.pk}"
    assert session["success_url"].endswith("/billing/success?session_id={CHECKOUT_SESSION_ID}")
    assert session["cancel_url"].endswith("/billing/cancel")


def test_billing_shows_plan_status_renewal_invoices_and_manage_billing(sandbox, alice):
    subscription_id = pay_personal(sandbox, alice)
    html = page(signed_in(alice).get("/billing"))
    assert re.search(r'data-testid="billing-plan"[^>]*>Pro<', html)
    assert re.search(
        r'data-testid="billing-status">\s*<span class="badge badge-success">Active<', html
    )
    assert has_testid(html, "billing-renews")
    assert html.count('data-testid="invoice-row"') == 1
    assert "$19.00" in html and "Paid" in html
    assert has_testid(html, "portal-submit")
    assert not has_testid(html, "billing-disabled")

    # Cancelled at the period end: the page says when it ends.
    sandbox.fake.dispatch(
        "POST", f"/v1/subscriptions/{subscription_id}", {"cancel_at_period_end": "true"}
    )
    sandbox.deliver_new()
    html = page(signed_in(alice).get("/billing"))
    assert has_testid(html, "billing-cancels") and "Cancels on" in html
    assert not has_testid(html, "billing-renews")


def test_checkout_while_subscribed_shows_the_409_as_a_message(sandbox, alice):
    pay_personal(sandbox, alice)
    client = signed_in(alice)
    response = checkout_personal(client, sandbox.prices["enterprise"], back="pricing")
    assert response.status_code == 302 and response["Location"] == "/pricing"
    html = page(client.get("/pricing"))
    assert "You already have a subscription; manage it in the billing portal" in html
    assert 'class="alert alert-error' in html


def test_checkout_of_an_unknown_price_is_a_message(sandbox, alice):
    client = signed_in(alice)
    response = checkout_personal(client, "price_nope")
    assert response.status_code == 302
    assert flashed(response) == ["Unknown or inactive price"]
    response = signed_in(alice).post("/billing/checkout", {"back": "billing"})
    assert flashed(response) == ["Choose a plan."]


def test_stripe_failing_is_a_message_not_a_500(sandbox, alice):
    sandbox.fake.failures.append((r"^/v1/checkout/sessions$", 500))
    client = signed_in(alice)
    response = checkout_personal(client, sandbox.prices["pro"])
    assert response.status_code == 302 and response["Location"] == "/billing"
    (message,) = flashed(response)
    assert message.startswith("The payment provider could not be reached")


def test_portal_redirects_to_stripe_or_says_there_is_no_account(sandbox, alice):
    client = signed_in(alice)
    response = client.post("/billing/portal")
    assert response.status_code == 302 and response["Location"] == "/billing"
    assert flashed(response) == ["You have no billing account yet"]
    pay_personal(sandbox, alice)
    response = client.post("/billing/portal")
    assert response.status_code == 303
    assert response["Location"].startswith(sandbox.url + "/checkout/portal/")


def test_billing_forms_are_post_only(sandbox, alice):
    client = signed_in(alice)
    assert client.get("/billing/checkout").status_code == 405
    assert client.get("/billing/portal").status_code == 405


def test_settings_billing_leads_to_billing(alice):
    response = signed_in(alice).get("/settings/billing")
    assert response.status_code == 302 and response["Location"] == "/billing"


# --- Checkout's return pages ----------------------------------------------------------------------


def test_success_page_works_before_the_webhook_and_after(sandbox, alice):
    client = signed_in(alice)
    session = session_of(sandbox, checkout_personal(client, sandbox.prices["pro"]))
    html = page(client.get(f"/billing/success?session_id={session['id']}"))
    assert "your plan is being activated" in html
    assert re.search(r'data-testid="billing-plan">Free<', html)  # the webhook has not come yet
    sandbox.pay(session["id"])
    html = page(client.get(f"/billing/success?session_id={session['id']}"))
    assert re.search(r'data-testid="billing-plan">Pro<', html)


def test_success_page_with_billing_disabled(alice):
    html = page(signed_in(alice).get("/billing/success"))
    assert "your plan is being activated" in html


def test_cancel_page(sandbox, alice):
    html = page(signed_in(alice).get("/billing/cancel"))
    assert has_testid(html, "checkout-cancel") and "Nothing was charged" in html


def test_return_pages_need_a_sign_in(client):
    for path in ("/billing/success", "/billing/cancel"):
        assert client.get(path).status_code == 302


# --- /org/<slug>/billing ----------------------------------------------------------------------------


def test_org_billing_access_follows_the_admin_pages(
    sandbox, alice, bob, dave, charlie, acme, globex
):
    assert page(signed_in(alice).get("/org/acme/billing"))
    assert page(signed_in(dave).get("/org/acme/billing"))
    assert page(signed_in(bob).get("/org/acme/billing"), 403)  # a member: like settings
    assert page(signed_in(charlie).get("/org/acme/billing"), 404)  # an outsider: not revealed
    response = Client().get("/org/acme/billing")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_org_billing_tab_for_admins_only(sandbox, alice, bob, dave, acme):
    assert has_testid(page(signed_in(alice).get("/org/acme/")), "nav-billing")
    assert has_testid(page(signed_in(dave).get("/org/acme/members/")), "nav-billing")
    assert not has_testid(page(signed_in(bob).get("/org/acme/")), "nav-billing")
    html = page(signed_in(alice).get("/org/acme/billing"))
    assert re.search(r'data-testid="nav-billing"', html) and 'aria-current="page"' in html


def test_org_billing_buttons_are_for_owners_only(sandbox, alice, dave, acme):
    html = page(signed_in(alice).get("/org/acme/billing"))
    assert has_testid(html, "checkout-org-acme-pro")
    assert has_testid(html, "checkout-org-acme-enterprise")
    assert re.search(r'data-testid="billing-seats"[^>]*>3 of 5 seats used<', html)  # dave too
    assert not has_testid(html, "portal-submit")  # no billing account yet
    html = page(signed_in(dave).get("/org/acme/billing"))
    assert has_testid(html, "read-only")
    assert "/org/acme/billing/checkout" not in html and "/org/acme/billing/portal" not in html
    # And the routes refuse an admin whatever the page shows.
    response = checkout_org(signed_in(dave), sandbox.prices["pro"])
    assert response.status_code == 403
    assert signed_in(dave).post("/org/acme/billing/portal").status_code == 403


def test_org_checkout_returns_to_the_org_page_and_shows_pro(sandbox, alice, dave, acme, settings):
    settings.SITE_URL = "http://keel.test"
    client = signed_in(alice)
    session = session_of(sandbox, checkout_org(client, sandbox.prices["pro"], back="pricing"))
    assert session["client_reference_id"] == f"org:{acme.pk}"
    success = urlsplit(session["success_url"])
    assert (
        f"{success.scheme}://{success.netloc}{success.path}" == "http://keel.test/org/acme/billing"
    )
    assert parse_qs(success.query)["checkout"] == ["success"]
    assert session["cancel_url"] == "http://keel.test/org/acme/billing?checkout=cancel"

    html = page(client.get("/org/acme/billing?checkout=success"))  # before the webhook
    assert has_testid(html, "checkout-success")
    assert re.search(r'data-testid="billing-plan"[^>]*>Free<', html)

    sandbox.pay(session["id"])
    html = page(client.get("/org/acme/billing?checkout=success"))
    assert re.search(r'data-testid="billing-plan"[^>]*>Pro<', html)
    assert re.search(r'data-testid="org-plan"[^>]*>Pro plan<', html)
    assert re.search(r'data-testid="billing-seats"[^>]*>3 of 25 seats used<', html)
    assert html.count('data-testid="invoice-row"') == 1
    assert has_testid(html, "portal-submit")
    assert has_testid(html, "current-plan-pro")
    html = page(signed_in(dave).get("/org/acme/billing"))  # admins read it
    assert re.search(r'data-testid="billing-plan"[^>]*>Pro<', html)
    assert not has_testid(html, "portal-submit")

    response = client.post("/org/acme/billing/portal")
    assert response.status_code == 303
    portal = sandbox.fake.of_kind("billing_portal.session")[-1]
    assert portal["return_url"] == "http://keel.test/org/acme/billing"

    page_html = page(client.get("/org/acme/billing?checkout=cancel"))
    assert has_testid(page_html, "checkout-cancel")


def test_org_checkout_while_subscribed_is_a_message(sandbox, alice, acme):
    pay_org(sandbox, alice)
    client = signed_in(alice)
    response = checkout_org(client, sandbox.prices["enterprise"])
    assert response.status_code == 302 and response["Location"] == "/org/acme/billing"
    html = page(client.get("/org/acme/billing"))
    assert "The organization already has a subscription" in html


def test_org_checkout_from_pricing_goes_back_to_pricing_on_error(alice, acme):
    response = checkout_org(signed_in(alice), "price_x", back="pricing")
    assert response.status_code == 302 and response["Location"] == "/pricing"
    response = checkout_org(signed_in(alice), "price_x", back="https://evil.example")
    assert response["Location"] == "/org/acme/billing"


def test_members_page_shows_the_seats_of_the_plan(sandbox, alice, bob, acme):
    html = page(signed_in(bob).get("/org/acme/members/"))
    assert re.search(r'data-testid="seat-usage"[^>]*>2 of 5 seats used<', html)
    assert "data-org-billing-live" in html and "/static/js/billing.js" in html
    assert "data-billing-api" not in html  # the API serves admins; members re-read the page
    pay_org(sandbox, alice, plan="enterprise")
    html = page(signed_in(bob).get("/org/acme/members/"))
    assert re.search(r'data-testid="seat-usage"[^>]*>unlimited seats<', html)
    assert "data-billing-api" in page(signed_in(alice).get("/org/acme/members/"))


# --- The payment-failed banner ----------------------------------------------------------------------


def test_no_banner_while_payments_go_through(sandbox, alice, acme):
    pay_personal(sandbox, alice)
    pay_org(sandbox, alice)
    assert not has_testid(page(signed_in(alice).get("/billing")), "billing-banner")
    assert not has_testid(page(signed_in(alice).get("/org/acme/")), "billing-banner")


def test_personal_past_due_shows_the_banner_everywhere(sandbox, alice):
    fail_renewal(sandbox, pay_personal(sandbox, alice))
    assert Subscription.objects.get().stripe_data["status"] == "past_due"
    for path in ("/", "/billing", "/pricing", "/settings/profile/"):
        html = page(signed_in(alice).get(path))
        assert has_testid(html, "billing-banner"), path
        assert "Payment failed — update your payment method" in html
        assert 'href="/billing" data-testid="billing-banner-link"' in html
    html = page(signed_in(alice).get("/billing"))
    assert has_testid(html, "past-due-help")
    assert "Payment failed" in html  # the status


def test_org_past_due_shows_the_banner_on_the_orgs_pages_to_its_members(
    sandbox, alice, bob, charlie, acme, globex
):
    fail_renewal(sandbox, pay_org(sandbox, alice))
    html = page(signed_in(alice).get("/org/acme/members/"))
    assert 'data-testid="billing-banner" data-scope="organization"' in html
    assert 'href="/org/acme/billing" data-testid="billing-banner-link"' in html
    html = page(signed_in(bob).get("/org/acme/"))  # a member: told, without the owner's link
    assert 'data-testid="billing-banner" data-scope="organization"' in html
    assert "an owner needs to update the payment method" in html
    assert not has_testid(html, "billing-banner-link")
    # Not on pages outside the org, nor to outsiders (the 404 page reveals nothing).
    assert not has_testid(page(signed_in(alice).get("/billing")), "billing-banner")
    assert not has_testid(page(signed_in(charlie).get("/org/acme/"), 404), "billing-banner")
    assert not has_testid(page(signed_in(charlie).get("/org/globex/")), "billing-banner")


def test_the_banner_costs_nothing_signed_out_and_at_most_two_queries(
    sandbox, alice, acme, django_assert_num_queries, django_assert_max_num_queries
):
    fail_renewal(sandbox, pay_org(sandbox, alice))
    fail_renewal(sandbox, pay_personal(sandbox, alice))
    factory = RequestFactory()
    anonymous = factory.get("/org/acme/")
    from django.contrib.auth.models import AnonymousUser

    anonymous.user = AnonymousUser()
    with django_assert_num_queries(0):
        assert billing_alerts(anonymous) == {}

    request = Client()
    request.force_login(alice)
    request = factory.get("/org/acme/")
    request.user = alice
    from django.urls import resolve

    request.resolver_match = resolve("/org/acme/")
    alerts = billing_alerts(request)["billing_alerts"]
    with django_assert_max_num_queries(2):
        items = alerts.items
    assert [a.scope for a in items] == ["organization", "personal"]
    request = factory.get("/billing")
    request.user = alice
    request.resolver_match = resolve("/billing")
    with django_assert_max_num_queries(1):
        assert [a.scope for a in billing_alerts(request)["billing_alerts"].items] == ["personal"]


# --- The pages' CSP ------------------------------------------------------------------------------


def form_action(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    (directive,) = [d.strip() for d in policy.split(";") if d.strip().startswith("form-action")]
    return directive.split()[1:]


def test_pages_with_checkout_forms_let_them_reach_stripe(sandbox, alice, acme):
    """Browsers apply `form-action` to a form's redirects: the 303 to Checkout needs it."""
    client = signed_in(alice)
    for path in ("/pricing", "/billing", "/org/acme/billing"):
        sources = form_action(client.get(path))
        assert sources[0] == "'self'", path
        assert "https://checkout.stripe.com" in sources and "https://billing.stripe.com" in sources
        assert sandbox.url in sources, path  # the Stripe-compatible API's own hosted pages
    assert form_action(client.get("/org/acme/members/")) == ["'self'"]
