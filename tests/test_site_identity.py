"""The site settings staff edit (`site_name`, `site_logo_url`, `site_description`,
`support_url`) reach Keel's pages and emails through one site context (config/site.py)."""

from __future__ import annotations

import pytest

from accounts.models import User
from config.emails import email_render
from security.services import system_settings_update

pytestmark = pytest.mark.django_db

LOGO = "https://cdn.example.com/acme/logo.png"
SUPPORT = "https://help.example.com/?topic=billing&lang=en"
LOGIN = "https://app.example.com/accounts/login/"


@pytest.fixture
def acme(superadmin):
    system_settings_update(
        values={
            "site_name": "Acme Cloud",
            "site_logo_url": LOGO,
            "site_description": "Invoices & payroll <for> small teams",
            "support_url": SUPPORT,
        },
        actor=superadmin,
    )


def test_the_landing_page_shows_the_logo_name_description_and_support_link(client, acme):
    html = client.get("/").content.decode()
    assert f'<img class="brand-logo" src="{LOGO}"' in html
    assert "<span>Acme Cloud</span>" in html
    assert (
        '<meta name="description" content="Invoices &amp; payroll &lt;for&gt; small teams">' in html
    )
    assert 'data-testid="site-description">Invoices &amp; payroll &lt;for&gt; small teams<' in html
    assert (
        '<a href="https://help.example.com/?topic=billing&amp;lang=en" rel="noopener" '
        'data-testid="support-link">Support</a>' in html
    )


def test_every_page_layout_carries_them(client, acme):
    for path in ("/accounts/login/", "/this-page-does-not-exist/"):
        html = client.get(path).content.decode()
        assert f'src="{LOGO}"' in html, path
        assert 'data-testid="support-link"' in html, path
        assert "Acme Cloud" in html, path


def test_empty_site_settings_render_nothing_broken(client):
    html = client.get("/").content.decode()
    assert "brand-logo" not in html and 'src=""' not in html
    assert 'href=""' not in html and 'data-testid="support-link"' not in html
    assert 'data-testid="site-description"' not in html
    assert '<meta name="description" content="Keel — a batteries-included' in html
    assert "<span>My Application</span>" in html  # the default site_name
    assert "None" not in html


def test_a_change_is_live_on_the_next_page(client, superadmin, acme):
    assert "Acme Cloud" in client.get("/").content.decode()
    system_settings_update(values={"site_name": "Globex", "support_url": ""}, actor=superadmin)
    html = client.get("/").content.decode()
    assert "<span>Globex</span>" in html and "Acme Cloud" not in html
    assert 'data-testid="support-link"' not in html


def test_emails_show_the_logo_and_the_support_link(acme):
    rendered = email_render("welcome", {"user": User(email="ada@example.com"), "login_url": LOGIN})
    assert f'<img src="{LOGO}" alt="Acme Cloud"' in rendered.html
    assert 'href="https://help.example.com/?topic=billing&amp;lang=en"' in rendered.html
    assert f"Support: {SUPPORT}" in rendered.text.splitlines()


def test_emails_without_logo_or_support_link_render_the_name(db):
    rendered = email_render("welcome", {"user": User(email="ada@example.com"), "login_url": LOGIN})
    assert "<img" not in rendered.html
    assert "Support" not in rendered.html and "Support" not in rendered.text
    assert ">My Application</a>" in rendered.html
