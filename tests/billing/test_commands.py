"""`manage.py billing_sync` and `manage.py billing_resync` against the Stripe fake (issue 13,
items 1 and 6): the catalogue pulled idempotently with progress shown, and subscriptions whose
webhook never came converged, one customer's failure reported without stopping the others."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from djstripe.models import Price, Product

from accounts.models import Role

pytestmark = pytest.mark.django_db


def run(*args: str, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def org_subscribed(sandbox, as_user, user, slug: str = "acme") -> str:
    """The org checks out Pro and pays; returns the subscription id."""
    response = as_user(user).post(
        f"/api/v1/organizations/{slug}/billing/checkout",
        {"price_id": sandbox.prices["pro"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    session_id = response.json()["data"]["session_id"]
    sandbox.pay(session_id)
    return str(sandbox.fake.objects[session_id]["subscription"])


def user_subscribed(sandbox, as_user, user) -> str:
    response = as_user(user).post(
        "/api/v1/billing/checkout", {"price_id": sandbox.prices["pro"]}, format="json"
    )
    assert response.status_code == 200, response.content
    session_id = response.json()["session_id"]
    sandbox.pay(session_id)
    return str(sandbox.fake.objects[session_id]["subscription"])


# --- billing_sync -------------------------------------------------------------------------------


def test_billing_sync_pulls_the_catalogue_with_progress_and_is_idempotent(sandbox):
    Price.objects.all().delete()
    Product.objects.all().delete()
    out, _ = run("billing_sync")
    assert "[" in out and "100%" in out and "4/4" in out
    assert "Synced 2 product(s) and 2 price(s)." in out
    assert Product.objects.count() == 2 and Price.objects.count() == 2

    out, _ = run("billing_sync")
    assert "Synced 2 product(s) and 2 price(s)." in out
    assert Product.objects.count() == 2 and Price.objects.count() == 2

    sandbox.product("Team", 4900, metadata={"plan": "pro"})
    run("billing_sync")
    assert Product.objects.count() == 3 and Price.objects.count() == 3


def test_billing_sync_refuses_with_billing_off(settings):
    settings.STRIPE_ENABLED = False
    with pytest.raises(CommandError, match="Billing is disabled"):
        run("billing_sync")


def test_billing_sync_says_when_stripe_fails(sandbox):
    sandbox.fake.failures.append((r"^/v1/products$", 500))
    with pytest.raises(CommandError, match="Stripe sync failed"):
        run("billing_sync")


# --- billing_resync -----------------------------------------------------------------------------


def test_resync_one_customer_converges_a_subscription_whose_webhook_never_came(
    sandbox, as_user, alice, acme
):
    subscription_id = org_subscribed(sandbox, as_user, alice)
    acme.refresh_from_db()
    assert acme.plan == "pro" and acme.stripe_subscription_id == subscription_id

    sandbox.fake.objects[subscription_id]["status"] = "canceled"  # at Stripe, no event sent
    out, _ = run("billing_resync", customer=[acme.stripe_customer_id])

    acme.refresh_from_db()
    assert acme.plan == "free" and acme.stripe_subscription_id == ""
    assert f"{acme.stripe_customer_id}: subscription {subscription_id} deleted" in out
    assert "organization acme plan" in out
    assert "1 changed, 0 unchanged, 0 failed" in out

    out, _ = run("billing_resync", customer=[acme.stripe_customer_id])
    assert "0 changed, 1 unchanged, 0 failed" in out


def test_resync_all_converges_every_linked_customer(sandbox, as_user, alice, bob, acme):
    org_sub = org_subscribed(sandbox, as_user, alice)
    user_sub = user_subscribed(sandbox, as_user, bob)
    bob.refresh_from_db()
    assert bob.role == Role.PREMIUM

    sandbox.fake.objects[org_sub]["status"] = "past_due"  # grace: still Pro
    sandbox.fake.objects[user_sub]["status"] = "canceled"
    out, err = run("billing_resync", all=True)

    assert "Re-syncing 2 customer(s)" in out and "2/2" in out
    assert "2 changed, 0 unchanged, 0 failed" in out and not err
    bob.refresh_from_db()
    acme.refresh_from_db()
    assert bob.role == Role.USER
    assert acme.plan == "pro"  # past_due keeps the plan
    assert f"subscription {org_sub} " in out, out


def test_resync_reports_a_failing_customer_and_goes_on(sandbox, as_user, alice, bob, acme):
    org_sub = org_subscribed(sandbox, as_user, alice)
    user_sub = user_subscribed(sandbox, as_user, bob)
    sandbox.fake.objects[org_sub]["status"] = "canceled"
    sandbox.fake.objects[user_sub]["status"] = "canceled"
    sandbox.fake.failures.append((r"^/v1/subscriptions$", 500))  # the first list call fails

    out = StringIO()
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 changed, 0 unchanged, 1 failed"):
        call_command("billing_resync", all=True, stdout=out, stderr=err)

    assert err.getvalue().count(" failed: ") == 1
    assert "payment provider" in err.getvalue()
    bob.refresh_from_db()
    acme.refresh_from_db()
    assert [acme.plan == "free", bob.role == Role.USER].count(True) == 1  # the other converged


def test_resync_needs_a_customer_or_all(sandbox):
    with pytest.raises(CommandError, match="--customer --all"):
        run("billing_resync")


def test_resync_refuses_with_billing_off(settings):
    settings.STRIPE_ENABLED = False
    with pytest.raises(CommandError, match="Billing is disabled"):
        run("billing_resync", all=True)


def test_resync_all_without_customers_says_so(sandbox):
    out, _ = run("billing_resync", all=True)
    assert "No Stripe customers to re-sync." in out


# --- make run BILLING=sandbox (manage.py serve --billing-sandbox) ---------------------------------


def test_serve_billing_sandbox_wires_web_and_worker_to_the_sandbox(monkeypatch):
    """What `serve --billing-sandbox` hands its children, without starting them (the whole run
    is checked by hand: docs/billing.md)."""
    import environ

    from config.management.commands import serve

    env = serve.sandbox_env(sandbox_port=12111)
    assert env["STRIPE_API_BASE"] == "http://127.0.0.1:12111"
    assert env["STRIPE_SECRET_KEY"].startswith("sk_test_") and len(env["STRIPE_SECRET_KEY"]) >= 24
    assert env["STRIPE_PUBLISHABLE_KEY"].startswith("pk_test_")
    assert env["STRIPE_ENABLED"] == "true"
    # Price lists from a real account's .env would not match the sandbox's ids: emptied, so
    # plans come from the products' `plan` metadata.
    for name in ("STRIPE_PRO_PRICE_IDS", "STRIPE_PREMIUM_PRICE_ID", "STRIPE_ENTERPRISE_PRICE_IDS",
                 "STRIPE_ENTERPRISE_PRICE_ID", "STRIPE_PER_SEAT_PRICE_IDS"):  # fmt: skip
        monkeypatch.setenv(name, env[name])
        assert environ.Env().list(name, default=["price_from_dotenv"]) == []  # as settings read it

    command = serve.sandbox_command(host="0.0.0.0", port=8765, sandbox_port=12111)  # noqa: S104
    assert command[1:3] == ["manage.py", "stripe_sandbox"]
    assert command[command.index("--port") + 1] == "12111"
    assert command[command.index("--webhook-url") + 1] == (
        "http://127.0.0.1:8765/api/v1/webhooks/stripe"
    )
    # The sandbox signs with the secret Keel checks.
    assert command[command.index("--webhook-secret") + 1] == env["STRIPE_WEBHOOK_SECRET"]


def test_serve_refuses_the_billing_sandbox_in_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="development only"):
        call_command("serve", billing_sandbox=True)
    with pytest.raises(CommandError, match="development only"):
        call_command("stripe_sandbox", port=0)


def test_resync_says_when_a_customer_is_not_linked(sandbox):
    out, _ = run("billing_resync", customer=["cus_unknown"])
    assert "cus_unknown: not linked to a Keel user or organization" in out
