"""An organization upgrades to Pro, in a real browser against a real ASGI server: the owner opens
/pricing, chooses the org's Pro checkout, pays on the Stripe fake's hosted checkout page, comes
back to the org's billing page, and sees Pro and 25 seats — while the members page and the
overview, left open in other tabs, follow LIVE over the WebSocket (no reload).

pytest-django's `live_server` is WSGI (no /ws), so this serves `config.asgi.application` with
uvicorn on a thread of this process: the same test database and settings, and the in-memory
channel layer, so the webhook's `org_update` reaches the sockets. The fake (tests/stripe_sandbox)
posts its events itself to that server's webhook route, signed, as Stripe would.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from playwright.sync_api import Browser, Page, expect

from organizations.models import Organization
from tests.browser.conftest import artifact_path
from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT = 20_000  # ms


@dataclass
class AsgiServer:
    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def asgi_server(transactional_db: None, settings: Any) -> Iterator[AsgiServer]:
    """Keel's ASGI application (HTTP and /ws) under uvicorn, on a thread; static files served
    from the finders as `live_server` does."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from config.asgi import application

    port = _free_port()
    config = uvicorn.Config(
        ASGIStaticFilesHandler(application),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="asgi-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    settings.SITE_URL = url
    try:
        yield AsgiServer(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_be_visible()


def test_owner_upgrades_the_org_to_pro_and_open_pages_follow_live(
    browser: Browser,
    asgi_server: AsgiServer,
    sandbox: Any,
    alice: Any,
    bob: Any,
    acme: Organization,
) -> None:
    sandbox.fake.webhook_url = f"{asgi_server.url}/api/v1/webhooks/stripe"
    journey(browser, asgi_server, sandbox, alice, acme)
    sandbox.fake.flush()  # the fake delivers from a thread of its own, in order
    assert [status for _, status in sandbox.fake.deliveries] == [200, 200, 200], (
        sandbox.fake.deliveries
    )


def journey(browser: Browser, asgi_server: AsgiServer, sandbox: Any, alice: Any, acme: Any) -> None:
    context = browser.new_context(
        base_url=asgi_server.url,
        color_scheme="light",
        locale="en-US",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(15_000)
    members = context.new_page()
    try:
        sign_in(members, alice.email)

        # Two tabs left open: the members page (keel.js's socket) and the overview (billing.js's
        # own socket). Each gets a marker that a reload would wipe.
        members.goto("/org/acme/members/")
        expect(members.get_by_test_id("org-plan")).to_have_text("Free plan")
        expect(members.get_by_test_id("seat-usage")).to_have_text("2 of 5 seats used")
        expect(members.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
        overview = context.new_page()
        overview.goto("/org/acme/")
        expect(overview.get_by_test_id("stat-plan")).to_have_text("Free")
        expect(overview.get_by_test_id("org-heading")).to_have_attribute(
            "data-billing-live-state", "connected"
        )
        # And bob, a member (the billing API is for admins: his tab re-reads the page).
        bobs = browser.new_context(
            base_url=asgi_server.url, viewport={"width": 1280, "height": 900}
        )
        bobs.set_default_timeout(15_000)
        bob_tab = bobs.new_page()
        sign_in(bob_tab, "bob@example.com")
        bob_tab.goto("/org/acme/members/")
        expect(bob_tab.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
        for tab in (members, overview, bob_tab):
            tab.evaluate("window.__notReloaded = true")

        # The owner picks the org's Pro plan on /pricing …
        shop = context.new_page()
        shop.goto("/")
        shop.get_by_test_id("nav-pricing").click()
        expect(shop.get_by_test_id("page-title")).to_have_text("Pricing")
        shop.get_by_test_id("checkout-org-acme-pro").click()

        # … lands on the fake's hosted checkout page, and pays …
        expect(shop.get_by_test_id("sandbox-product")).to_contain_text("Pro")
        assert shop.url.startswith(sandbox.url + "/checkout/cs_test_")
        shop.get_by_test_id("sandbox-pay").click()

        # … and is back on the org's billing page, on Pro with 25 seats.
        expect(shop.get_by_test_id("checkout-success")).to_be_visible()
        assert shop.url.startswith(f"{asgi_server.url}/org/acme/billing?checkout=success")
        expect(shop.get_by_test_id("billing-plan")).to_have_text("Pro", timeout=LIVE_TIMEOUT)
        expect(shop.get_by_test_id("billing-seats")).to_have_text(
            "2 of 25 seats used", timeout=LIVE_TIMEOUT
        )
        expect(shop.get_by_test_id("org-plan")).to_have_text("Pro plan", timeout=LIVE_TIMEOUT)

        # The open tabs followed without a reload.
        expect(members.get_by_test_id("org-plan")).to_have_text("Pro plan", timeout=LIVE_TIMEOUT)
        expect(members.get_by_test_id("seat-usage")).to_have_text(
            "2 of 25 seats used", timeout=LIVE_TIMEOUT
        )
        expect(overview.get_by_test_id("stat-plan")).to_have_text("Pro", timeout=LIVE_TIMEOUT)
        expect(overview.get_by_test_id("stat-members")).to_contain_text(
            "of 25 seats", timeout=LIVE_TIMEOUT
        )
        expect(bob_tab.get_by_test_id("org-plan")).to_have_text("Pro plan", timeout=LIVE_TIMEOUT)
        expect(bob_tab.get_by_test_id("seat-usage")).to_have_text(
            "2 of 25 seats used", timeout=LIVE_TIMEOUT
        )
        for tab in (members, overview, bob_tab):
            assert tab.evaluate("window.__notReloaded === true"), tab.url
        bobs.close()

        acme.refresh_from_db()
        assert acme.plan == "pro"

        # Once the invoice's event is in, the page lists the paid invoice.
        deadline = time.monotonic() + LIVE_TIMEOUT / 1000
        while len(sandbox.fake.deliveries) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        shop.reload()
        expect(shop.get_by_test_id("invoice-row")).to_have_count(1)
        expect(shop.get_by_test_id("invoice-amount")).to_have_text("$19.00")
        members.screenshot(path=str(artifact_path("billing-members-live")), full_page=True)
        shop.screenshot(path=str(artifact_path("billing-org-upgraded")), full_page=True)
    except BaseException:
        for name, tab in (("members", members), *((p.url, p) for p in context.pages[1:])):
            try:
                tab.screenshot(path=str(artifact_path(f"billing-flow-{name}")), full_page=True)
            except Exception as exc:  # the screenshot must not hide the failure
                print(f"could not take a screenshot: {exc}")
        raise
    finally:
        context.close()
