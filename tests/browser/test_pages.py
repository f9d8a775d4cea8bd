"""What a person sees in a browser: the landing page, theme toggle, 404 page and admin sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.browser.conftest import artifact_path

pytestmark = pytest.mark.browser

# Recorded in the page before any of its scripts run (init scripts are exempt from the CSP).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def collect_errors(page: Page) -> list[str]:
    """Console errors, uncaught page errors and failed requests, as they happen."""
    errors: list[str] = []
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} {req.failure}"))
    return errors


def test_landing_page_renders(page: Page):
    response = page.goto("/")
    assert response is not None and response.status == 200
    expect(page).to_have_title("Keel — a batteries-included Django SaaS backend")
    hero = page.get_by_test_id("hero-title")
    expect(hero).to_be_visible()
    expect(hero).to_contain_text("Keel")
    expect(page.get_by_test_id("features")).to_be_visible()
    expect(page.get_by_test_id("cta-sign-in")).to_have_attribute("href", "/accounts/login/")


def test_stylesheet_is_applied(page: Page):
    page.goto("/")
    sheets = page.evaluate("[...document.styleSheets].map((s) => s.href || '')")
    assert any(href.endswith("/static/css/keel.css") for href in sheets), sheets
    style = page.evaluate(
        """() => {
          const body = getComputedStyle(document.body);
          const tokens = getComputedStyle(document.documentElement);
          return {
            font: body.fontFamily,
            background: body.backgroundColor,
            accent: tokens.getPropertyValue("--color-accent").trim(),
          };
        }"""
    )
    # Without keel.css: Chromium's defaults, a serif font on a transparent background.
    assert "system-ui" in style["font"], style
    assert style["background"] not in {"rgba(0, 0, 0, 0)", "transparent"}, style
    assert style["accent"], style


def test_landing_page_has_no_console_errors_or_csp_violations(page: Page):
    errors = collect_errors(page)
    page.add_init_script(CSP_RECORDER)
    response = page.goto("/", wait_until="networkidle")
    assert response is not None
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    # The theme toggle only works if keel.js ran: a behaviour check that scripts loaded.
    expect(page.locator("html")).to_have_attribute("data-theme-choice", "system")
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    assert errors == [], errors


def test_theme_toggle_switches_and_survives_reload(page: Page):
    page.goto("/")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "light")  # the context prefers light
    toggle = page.get_by_test_id("theme-toggle")

    toggle.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(html).to_have_attribute("data-theme-choice", "dark")
    background_dark = page.evaluate("getComputedStyle(document.body).backgroundColor")

    page.reload()
    expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate("localStorage.getItem('theme')") == "dark"

    toggle.click()
    expect(html).to_have_attribute("data-theme", "light")
    background_light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background_light != background_dark

    page.reload()
    expect(html).to_have_attribute("data-theme", "light")


def test_unknown_page_shows_friendly_404(page: Page):
    response = page.goto("/this-page-does-not-exist/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page).to_have_title("Page not found · My Application")  # the default site_name
    home = page.get_by_role("link", name="Go to the home page")
    expect(home).to_be_visible()
    home.click()
    expect(page.get_by_test_id("hero-title")).to_be_visible()


def test_admin_sign_in_shows_admin_index(page: Page, transactional_db: None):
    User.objects.create_superuser("root@example.com", "A-str0ng-passphrase!", name="Sam Super")

    page.goto("/admin/")
    expect(page).to_have_url("/accounts/login/?next=/admin/")
    page.fill("input[name=login]", "root@example.com")
    page.fill("input[name=password]", "A-str0ng-passphrase!")
    page.get_by_test_id("login-submit").click()

    expect(page).to_have_url("/admin/")
    expect(page.locator("#site-name")).to_have_text("Keel administration")
    expect(page.get_by_role("link", name="Users", exact=True)).to_be_visible()
    expect(page.locator("#user-tools")).to_contain_text("Welcome")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.screenshot(path=str(artifact_path("admin-index")), full_page=True)


def test_admin_rejects_wrong_password(page: Page, transactional_db: None):
    User.objects.create_superuser("root@example.com", "A-str0ng-passphrase!", name="Sam Super")

    page.goto("/admin/login/")
    expect(page).to_have_url("/accounts/login/?next=/admin/")
    page.fill("input[name=login]", "root@example.com")
    page.fill("input[name=password]", "not-the-password")
    page.get_by_test_id("login-submit").click()

    expect(page.locator(".errorlist, [role=alert]").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
