"""Billing in the Django admin (issue 13, item 8): dj-stripe's mirror readable, customers and
subscriptions linked to their Keel user or organization, and the staff "Re-sync from Stripe"
action converging a subscription whose webhook never came, with errors shown as messages."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djstripe.models import Customer, Subscription

from billing.services import subscription_sync
from tests.billing.test_commands import org_subscribed, user_subscribed
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
CUSTOMERS = "/admin/djstripe/customer/"
SUBSCRIPTIONS = "/admin/djstripe/subscription/"


@pytest.fixture
def sa_client(client, superadmin):
    client.force_login(superadmin)
    return client


@pytest.fixture
def subscribed(sandbox, as_user, alice, bob, acme):
    """acme on Pro (alice pays), bob on personal Pro."""
    org_sub = org_subscribed(sandbox, as_user, alice)
    user_sub = user_subscribed(sandbox, as_user, bob)
    acme.refresh_from_db()
    return {"org": org_sub, "user": user_sub}


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def act(client, url: str, action: str, *pks: int):
    return client.post(url, {"action": action, "_selected_action": list(pks)}, follow=True)


@pytest.mark.parametrize(
    "url",
    [
        CUSTOMERS,
        SUBSCRIPTIONS,
        "/admin/djstripe/product/",
        "/admin/djstripe/price/",
        "/admin/djstripe/invoice/",
        "/admin/djstripe/event/",
        "/admin/organizations/organization/",
    ],
)
def test_the_billing_changelists_render_for_staff(sa_client, subscribed, url):
    assert sa_client.get(url).status_code == 200


def test_customers_and_subscriptions_link_to_their_keel_subscriber(
    sa_client, subscribed, acme, bob
):
    org_link = f'href="/admin/organizations/organization/{acme.pk}/change/">Organization: Acme<'
    user_link = f'href="/admin/accounts/user/{bob.pk}/change/">User: '
    for url in (CUSTOMERS, SUBSCRIPTIONS):
        html = sa_client.get(url).content.decode()
        assert "Keel subscriber" in html
        assert org_link in html and user_link in html

    subscription = Subscription.objects.get(id=subscribed["org"])
    html = sa_client.get(f"{SUBSCRIPTIONS}{subscription.pk}/change/").content.decode()
    assert org_link in html
    customer = Customer.objects.get(subscriber=bob)
    html = sa_client.get(f"{CUSTOMERS}{customer.pk}/change/").content.decode()
    assert user_link in html


def test_the_organization_page_links_to_its_stripe_rows(sa_client, subscribed, acme):
    html = sa_client.get(f"/admin/organizations/organization/{acme.pk}/change/").content.decode()
    customer = Customer.objects.get(id=acme.stripe_customer_id)
    subscription = Subscription.objects.get(id=subscribed["org"])
    assert "Stripe billing" in html
    assert f'href="{CUSTOMERS}{customer.pk}/change/">{customer.id}<' in html
    assert f'href="{SUBSCRIPTIONS}{subscription.pk}/change/">{subscription.id}<' in html


def test_the_customer_resync_action_converges_and_reports(sa_client, sandbox, subscribed, acme):
    sandbox.fake.objects[subscribed["org"]]["status"] = "canceled"  # no webhook
    customer = Customer.objects.get(id=acme.stripe_customer_id)

    response = act(sa_client, CUSTOMERS, "resync_from_stripe", customer.pk)

    assert response.status_code == 200
    acme.refresh_from_db()
    assert acme.plan == "free"
    [note] = notes(response)
    assert note.startswith(f"{customer.id}: subscription {subscribed['org']} deleted")
    assert "organization acme plan" in note

    response = act(sa_client, CUSTOMERS, "resync_from_stripe", customer.pk)
    assert notes(response) == [f"{customer.id}: already up to date, nothing changed."]


def test_the_subscription_resync_action_resyncs_its_customer(sa_client, sandbox, subscribed, bob):
    sandbox.fake.objects[subscribed["user"]]["status"] = "canceled"
    subscription = Subscription.objects.get(id=subscribed["user"])

    response = act(sa_client, SUBSCRIPTIONS, "resync_from_stripe", subscription.pk)

    bob.refresh_from_db()
    assert bob.role == "user"
    assert any(f"user {bob.pk} role" in n for n in notes(response))


def test_the_organization_resync_action(sa_client, sandbox, subscribed, acme):
    sandbox.fake.objects[subscribed["org"]]["status"] = "canceled"
    response = act(sa_client, "/admin/organizations/organization/", "resync_from_stripe", acme.pk)
    acme.refresh_from_db()
    assert acme.plan == "free"
    assert any("organization acme plan" in n for n in notes(response))


def test_a_stripe_failure_is_a_message_not_a_500(sa_client, sandbox, subscribed, acme):
    sandbox.fake.failures.append((r"^/v1/subscriptions$", 500))
    customer = Customer.objects.get(id=acme.stripe_customer_id)

    response = act(sa_client, CUSTOMERS, "resync_from_stripe", customer.pk)

    assert response.status_code == 200
    [note] = notes(response)
    assert note.startswith(f"{customer.id}: The payment provider could not be reached")
    acme.refresh_from_db()
    assert acme.plan == "pro"


def test_the_resync_action_with_billing_off_says_so(sa_client, settings, subscribed, acme):
    settings.STRIPE_ENABLED = False  # the pytest-django fixture shadows the module here
    customer = Customer.objects.get(id=acme.stripe_customer_id)
    response = act(sa_client, CUSTOMERS, "resync_from_stripe", customer.pk)
    assert response.status_code == 200
    assert notes(response) == ["Billing is disabled (no STRIPE_SECRET_KEY): nothing re-synced."]


def test_non_staff_are_refused(client, sandbox, subscribed, bob, staff):
    client.force_login(bob)
    for url in (CUSTOMERS, SUBSCRIPTIONS):
        response = client.get(url, follow=True)
        assert response.status_code == 403
        assert "Keel subscriber" not in response.content.decode()
    customer = Customer.objects.get(subscriber=bob)
    response = act(client, CUSTOMERS, "resync_from_stripe", customer.pk)
    assert response.status_code == 403
    # Admins without a grant on dj-stripe's models see nothing of them (super admins do).
    client.force_login(staff)
    assert client.get(CUSTOMERS).status_code == 403


def _grow(sandbox, n: int) -> None:
    """n customers with a subscription each, alternately an organization's and a user's."""
    for i in range(n):
        data = sandbox.fake.dispatch("POST", "/v1/customers", {"email": f"c{i}@example.com"})
        customer = Customer.sync_from_stripe_data(data, api_key=settings.STRIPE_SECRET_KEY)
        if i % 2:
            OrganizationFactory(stripe_customer_id=customer.id)
        else:
            Customer.objects.filter(pk=customer.pk).update(subscriber=UserFactory())
        sub = sandbox.fake.subscription_create(
            customer=customer.id, items=[{"price": sandbox.prices["pro"]}], metadata={}
        )
        subscription_sync(sub["id"])  # read back through the stripe library, as Keel does


@pytest.mark.parametrize("url", [CUSTOMERS, SUBSCRIPTIONS])
def test_the_changelists_cost_the_same_queries_for_more_rows(sa_client, sandbox, url):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert sa_client.get(url).status_code == 200
        return len(captured.captured_queries)

    _grow(sandbox, 2)
    count()  # warm
    few = count()
    _grow(sandbox, 6)
    assert count() == few
