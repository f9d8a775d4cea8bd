"""The sign-in journey of a person in a real browser (contract §2, §3.4, §13.2): sign up,
verify the address from the email, sign in, enrol TOTP by reading the secret off the page,
sign out, sign in with a code, then revoke that session from a second browser."""

from __future__ import annotations

import base64
import time

import pytest
from django.core import mail
from django_otp.oath import TOTP
from playwright.sync_api import Page, expect

from accounts.models import User, UserSession
from tests.accounts.helpers import LINK
from tests.browser.conftest import artifact_path

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "robin@example.com", "Sparrow-Hawk-81"


def code_for(secret_b32: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for this secret (optionally one step ahead)."""
    secret = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    totp = TOTP(secret, step=30, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", password)
    page.get_by_test_id("login-submit").click()


def test_sign_up_verify_enrol_totp_and_revoke_from_another_browser(
    page: Page, browser, live_server, transactional_db
):
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign up: signed in at once, a verification email on its way.
    page.goto("/accounts/signup/")
    page.fill("input[name=name]", "Robin Hood")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", PASSWORD)
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Robin Hood")

    # Follow the link in the email.
    message = next(m for m in mail.outbox if EMAIL in m.to)
    link = next(url for url in LINK.findall(message.body) if "/verify-email?" in url)
    page.goto(link.replace("http://localhost:8000", live_server.url))
    expect(page.get_by_test_id("verify-result")).to_contain_text("verified")
    assert User.objects.get(email=EMAIL).email_verified

    # Sign out, sign in with the password.
    page.goto("/")
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    sign_in(page)
    expect(page.get_by_test_id("user-name")).to_have_text("Robin Hood")

    # Enrol TOTP, reading the secret shown beside the QR code.
    page.goto("/settings/security/")
    expect(page.get_by_test_id("2fa-status")).to_have_text("Off")
    page.get_by_test_id("2fa-setup").click()
    expect(page.get_by_test_id("2fa-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("2fa-secret").inner_text().strip().replace(" ", "")
    page.get_by_test_id("2fa-code").fill(code_for(secret))
    page.get_by_test_id("2fa-enable").click()
    expect(page.get_by_test_id("2fa-status")).to_have_text("On")
    backup_codes = page.get_by_test_id("backup-codes").inner_text().split()
    backup_codes = [c for c in backup_codes if len(c) == 9 and c[4] == "-"]
    assert len(backup_codes) == 10
    page.screenshot(path=str(artifact_path("security-2fa-on")), full_page=True)

    # Sign out; signing in now asks for a code.
    page.get_by_test_id("sign-out").click()
    sign_in(page)
    expect(page).to_have_url(f"{live_server.url}/accounts/2fa/")
    page.get_by_test_id("otp-code").fill(code_for(secret, steps_ahead=1))  # not the one used
    page.get_by_test_id("otp-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Robin Hood")

    # A second browser signs in with a backup code...
    other = browser.new_context(base_url=live_server.url)
    try:
        second = other.new_page()
        second.on("dialog", lambda dialog: dialog.accept())
        sign_in(second)
        second.get_by_test_id("otp-code").fill(backup_codes[0])
        second.get_by_test_id("otp-submit").click()
        expect(second.get_by_test_id("user-name")).to_have_text("Robin Hood")

        # ...sees both sessions and signs the first browser out.
        second.goto("/settings/security/")
        expect(second.get_by_test_id("session-row")).to_have_count(2)
        second.locator("[data-testid^=revoke-session-]").click()
        expect(second.get_by_test_id("session-row")).to_have_count(1)
    finally:
        other.close()

    assert UserSession.objects.filter(user__email=EMAIL, revoked_at__isnull=True).count() == 1
    page.goto("/settings/security/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/settings/security/")
