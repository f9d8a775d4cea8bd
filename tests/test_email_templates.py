"""Transactional email templates (templates/emails/<key>.{subject.txt,txt,html}).

The HTML body is auto-escaped; the subject and plain-text body render with autoescape off
(they are not HTML, so escaping would turn "O'Brien" into "O&#x27;Brien" and break `&` in
links). Nothing marks user data safe.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.utils.html import escape

from accounts.models import User
from config.emails import email_render, email_send

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 11, 25, 14, 3, tzinfo=dt.UTC)
WHEN_TEXT = "25 Nov 2026, 14:03 UTC"
BASE = "https://app.example.com"

# key -> (the context variable holding the call-to-action URL, the context)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "email_verification": (
        "verify_url",
        {"verify_url": f"{BASE}/verify-email?uid=42&token=abc-123", "expires_hours": 24},
    ),
    "email_change_verify": (
        "verify_url",
        {
            "verify_url": f"{BASE}/verify-email-change?uid=42&token=def-456",
            "expires_hours": 24,
            "new_email": "new.address@example.org",
        },
    ),
    "password_reset": (
        "reset_url",
        {
            "reset_url": f"{BASE}/reset-password?uid=42&token=ghi-789",
            "expires_minutes": 60,
            "ip_address": "203.0.113.7",
        },
    ),
    "account_locked": (
        "reset_url",
        {
            "reset_url": f"{BASE}/forgot-password?email=ada%40example.com&src=lock",
            "locked_minutes": 15,
            "ip_address": "203.0.113.7",
        },
    ),
    "password_changed": (
        "reset_url",
        {
            "reset_url": f"{BASE}/forgot-password?src=changed&x=1",
            "changed_at": WHEN,
            "ip_address": "2001:db8::1",
        },
    ),
    "login_alert": (
        "sessions_url",
        {
            "sessions_url": f"{BASE}/settings/sessions?from=alert&id=9",
            "device_info": "Chrome 131 on macOS",
            "ip_address": "198.51.100.23",
            "location": "Lisbon, Portugal",
            "signed_in_at": WHEN,
        },
    ),
    "two_factor_enabled": (
        "sessions_url",
        {
            "sessions_url": f"{BASE}/settings/sessions?from=2fa&on=1",
            "changed_at": WHEN,
            "ip_address": "198.51.100.23",
        },
    ),
    "two_factor_disabled": (
        "sessions_url",
        {
            "sessions_url": f"{BASE}/settings/sessions?from=2fa&on=0",
            "changed_at": WHEN,
            "ip_address": "198.51.100.23",
        },
    ),
    "welcome": ("login_url", {"login_url": f"{BASE}/login?next=/&welcome=1"}),
}
KEYS = list(CASES)
HOSTILE = "<script>x</script>"
TAG = re.compile(r"</?[a-zA-Z][^>]*>")
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def context_for(key: str, **overrides: Any) -> dict[str, Any]:
    user = User(name=overrides.pop("name", "Seán O'Brien & Co"), email="sean@example.com")
    return {"user": user, **CASES[key][1], **overrides}


@pytest.mark.parametrize("key", KEYS)
def test_renders_subject_text_and_html(key: str) -> None:
    url_var, _ = CASES[key]
    ctx = context_for(key)
    url = ctx[url_var]
    rendered = email_render(key, ctx)

    assert rendered.subject.strip()
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert "My Application" in rendered.subject  # the default site_name

    # The plain-text body stands alone: the full URL on its own line, no markup or entities.
    assert url in rendered.text.splitlines()
    assert not TAG.search(rendered.text), TAG.search(rendered.text)
    assert not ENTITY.search(rendered.text), ENTITY.search(rendered.text)
    assert "Hi Seán O'Brien & Co," in rendered.text
    assert "You received this email because" in rendered.text

    # The HTML body links the same URL (attribute-escaped) and is built on emails/base.html.
    assert f'href="{escape(url)}"' in rendered.html
    assert "Hi Seán O&#x27;Brien &amp; Co," in rendered.html
    assert "You received this email because" in rendered.html
    assert 'role="presentation"' in rendered.html
    assert "<link" not in rendered.html and "<script" not in rendered.html


@pytest.mark.parametrize("key", KEYS)
def test_html_escapes_user_data(key: str) -> None:
    ctx = context_for(key, name=HOSTILE)
    for field in ("new_email", "device_info", "location"):
        if field in ctx:
            ctx[field] = f"{field}{HOSTILE}"
    html = email_render(key, ctx).html

    assert "Hi &lt;script&gt;x&lt;/script&gt;," in html
    assert "<script" not in html


@pytest.mark.parametrize("key", KEYS)
def test_greets_by_email_without_a_name(key: str) -> None:
    rendered = email_render(key, context_for(key, name=""))
    assert "Hi sean@example.com," in rendered.text
    assert "Hi sean@example.com," in rendered.html


@pytest.mark.parametrize("key", KEYS)
def test_site_name_is_escaped_only_in_html(key: str) -> None:
    rendered = email_render(key, context_for(key, site_name="Smith & Sons"))
    assert "Smith & Sons" in rendered.subject
    assert "Smith & Sons" in rendered.text
    assert "Smith &amp; Sons" in rendered.html
    assert "Smith & Sons" not in rendered.html


@pytest.mark.parametrize(
    "key", ["password_changed", "login_alert", "two_factor_enabled", "two_factor_disabled"]
)
def test_timestamps_render_in_utc(key: str) -> None:
    field = "signed_in_at" if key == "login_alert" else "changed_at"
    lisbon_summer = dt.timezone(dt.timedelta(hours=1))
    rendered = email_render(key, context_for(key, **{field: WHEN.astimezone(lisbon_summer)}))
    assert WHEN_TEXT in rendered.text
    assert WHEN_TEXT in rendered.html


@pytest.mark.parametrize(
    "key",
    [
        "password_reset",
        "account_locked",
        "password_changed",
        "login_alert",
        "two_factor_enabled",
        "two_factor_disabled",
    ],
)
def test_optional_ip_and_location_can_be_empty(key: str) -> None:
    ctx = context_for(key, ip_address="")
    if "location" in ctx:
        ctx["location"] = ""
    rendered = email_render(key, ctx)
    for body in (rendered.text, rendered.html):
        assert "IP address" not in body
        assert "Location" not in body


def test_specific_content() -> None:
    verify = email_render("email_verification", context_for("email_verification"))
    assert "24 hours" in verify.text
    assert "Confirm your email address" in verify.subject

    change = email_render("email_change_verify", context_for("email_change_verify"))
    assert "new.address@example.org" in change.text
    assert "new.address@example.org" in change.html

    reset = email_render("password_reset", context_for("password_reset"))
    assert "60 minutes" in reset.text
    assert "203.0.113.7" in reset.text
    assert "ignore this email" in reset.text

    locked = email_render("account_locked", context_for("account_locked"))
    assert "too many failed sign-in attempts" in locked.text
    assert "15 minutes" in locked.text
    one = email_render("account_locked", context_for("account_locked", locked_minutes=1))
    assert "1 minute." in one.text

    changed = email_render("password_changed", context_for("password_changed"))
    assert "If this wasn't you, reset your password now" in changed.text
    assert "2001:db8::1" in changed.html

    alert = email_render("login_alert", context_for("login_alert"))
    assert "New sign-in to your" in alert.subject
    for value in ("Chrome 131 on macOS", "198.51.100.23", "Lisbon, Portugal"):
        assert value in alert.text
        assert value in alert.html


def test_email_send_puts_one_message_with_html_alternative_in_outbox(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ctx = context_for("password_reset")

    email_send(to="sean@example.com", template="password_reset", context=ctx)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sean@example.com"]
    assert message.subject == "Reset your My Application password"
    assert ctx["reset_url"] in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'href="{escape(ctx["reset_url"])}"' in html
