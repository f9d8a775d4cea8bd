"""The browser account pages: django-allauth's pages drawn in Keel's layout (templates/allauth/)
and Keel's own pages (templates/account/): two-factor sign-in step, email-link targets,
/settings/security/ and the sign-in activity list.

Every page must use Keel's frame and stay inside the strict CSP: no inline <script> and no
inline event handlers.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django import forms
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.auth import sessions, two_factor
from accounts.auth.forms import CodeForm
from accounts.core import links
from accounts.models import AuthMethod, FailureReason, LoginHistory, User, UserSession
from tests.accounts.helpers import enrol, totp_code

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)


def keel_page(response: HttpResponse, status: int = 200) -> str:
    """The page's HTML, after checking it is a Keel page that respects the CSP."""
    assert response.status_code == status, response.status_code
    html = response.content.decode()
    assert_keel_html(html)
    return html


def assert_keel_html(html: str) -> None:
    assert 'class="site-header"' in html
    assert "/static/css/keel.css" in html
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html)


def has_testid(html: str, name: str) -> bool:
    return f'data-testid="{name}"' in html


def new_session(user: User, *, user_agent: str = CHROME, ip: str = "203.0.113.7") -> UserSession:
    meta = sessions.RequestMeta(ip=ip, user_agent=user_agent)
    return sessions.session_create(user=user, meta=meta, method=AuthMethod.PASSWORD).session


def set_session(client: Client, **values: object) -> None:
    session = client.session
    session.update(values)
    session.save()


# --- allauth pages, anonymous -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/accounts/login/", 200),
        ("/accounts/signup/", 200),
        ("/accounts/password/reset/", 200),
        ("/accounts/password/reset/done/", 200),
        ("/accounts/inactive/", 200),
        ("/accounts/3rdparty/login/error/", 401),  # socialaccount/authentication_error.html
        ("/accounts/3rdparty/login/cancelled/", 200),
    ],
)
def test_anonymous_allauth_pages_use_the_keel_layout(client: Client, url: str, status: int):
    html = keel_page(client.get(url), status=status)
    assert has_testid(html, "auth-card")  # the centred entrance card
    assert has_testid(html, "sign-in")
    assert not has_testid(html, "sign-out")


def test_the_login_page_links_to_password_reset_and_sign_up(client: Client):
    html = keel_page(client.get("/accounts/login/"))
    assert 'href="/accounts/password/reset/"' in html
    assert has_testid(html, "forgot-password")
    assert 'href="/accounts/signup/' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'class="btn btn-primary btn-block"' in html
    assert 'type="password"' in html
    # No OAuth app is configured in tests, so no provider buttons.
    assert not has_testid(html, "provider-list")


def test_the_login_page_shows_a_button_for_each_configured_provider(client: Client):
    from allauth.socialaccount.models import SocialApp

    SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="s")
    html = keel_page(client.get("/accounts/login/"))
    assert has_testid(html, "provider-list")
    assert has_testid(html, "provider-github")
    assert "Continue with GitHub" in html
    assert not has_testid(html, "provider-google")


def test_the_provider_confirmation_page_posts_with_csrf(client: Client):
    from allauth.socialaccount.models import SocialApp

    SocialApp.objects.create(provider="github", name="GitHub", client_id="id", secret="s")
    html = keel_page(client.get("/accounts/github/login/"))
    assert has_testid(html, "auth-card")
    assert 'method="post"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_a_failed_sign_in_shows_the_error_in_an_alert(client: Client, alice: User):
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": "not-the-password"}
    )
    html = keel_page(response)
    assert has_testid(html, "form-errors")
    assert 'class="alert alert-error form-errors"' in html


def test_the_signup_page_asks_for_a_name(client: Client):
    html = keel_page(client.get("/accounts/signup/"))
    assert 'name="name"' in html
    assert 'name="email"' in html
    assert 'name="password1"' in html
    assert 'class="form-group' in html
    assert 'href="/accounts/login/' in html


def test_the_social_signup_page_uses_the_keel_layout(rf: RequestFactory, alice: User):
    request = rf.get("/accounts/3rdparty/signup/")
    request.user = alice

    class SignupForm(forms.Form):
        email = forms.EmailField(help_text="We'll send sign-in notices here.")

    html = render_to_string(
        "socialaccount/signup.html",
        {
            "form": SignupForm({"email": "bad"}),
            "account": SimpleNamespace(get_provider=SimpleNamespace(name="GitHub")),
            "site": SimpleNamespace(name="Keel"),
        },
        request=request,
    )
    assert_keel_html(html)
    assert has_testid(html, "auth-card")
    assert 'class="errorlist" id="id_email_error"' in html
    assert 'id="id_email_helptext"' in html
    assert 'aria-invalid="true"' in html


def test_the_authentication_error_template_uses_the_keel_layout(rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/accounts/3rdparty/login/error/")
    request.user = AnonymousUser()
    html = render_to_string("socialaccount/authentication_error.html", {}, request=request)
    assert_keel_html(html)
    assert "Third-Party Login Failure" in html


# --- allauth pages, signed in -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/accounts/3rdparty/", "/accounts/password/change/"],
)
def test_signed_in_allauth_pages_use_the_settings_frame(client: Client, alice: User, url: str):
    client.force_login(alice)
    html = keel_page(client.get(url))
    assert has_testid(html, "settings-nav")
    assert 'aria-current="page"' in html
    assert has_testid(html, "sign-out")


def test_allauth_email_management_is_not_offered(client: Client, alice: User):
    """Keel owns the address (its own verification tokens): /accounts/email/ goes to Security."""
    client.force_login(alice)
    response = client.get("/accounts/email/")
    assert response.status_code == 302 and response["Location"] == "/settings/security/"


def test_the_set_password_page_for_a_social_only_account(client: Client, alice: User):
    alice.set_unusable_password()
    alice.save()
    client.force_login(alice)
    html = keel_page(client.get("/accounts/password/set/"))
    assert 'name="password1"' in html


def test_the_logout_confirmation_is_an_entrance_card(client: Client, alice: User):
    client.force_login(alice)
    html = keel_page(client.get("/accounts/logout/"))
    assert has_testid(html, "auth-card")
    assert has_testid(html, "logout-confirm")
    assert 'action="/accounts/logout/"' in html


def test_the_reauthenticate_page_uses_the_keel_layout(client: Client, alice: User):
    client.force_login(alice)
    html = keel_page(client.get("/accounts/reauthenticate/"))
    assert 'type="password"' in html


# --- The header -------------------------------------------------------------------------------


def test_the_header_signs_in_through_allauth(client: Client):
    html = keel_page(client.get("/"))
    assert re.search(r'href="/accounts/login/"[^>]*data-testid="sign-in"', html)
    assert "/admin/login/" not in html


def test_the_header_of_a_signed_in_user(client: Client, alice: User):
    client.force_login(alice)
    html = keel_page(client.get("/"))
    assert re.search(r'href="/settings/security/"[^>]*data-testid="user-name"', html)
    assert alice.display_name in html
    form = re.search(r'<form[^>]*data-testid="sign-out-form".*?</form>', html, re.S)
    assert form is not None
    assert 'method="post"' in form.group(0)
    assert 'action="/accounts/logout/"' in form.group(0)
    assert 'name="csrfmiddlewaretoken"' in form.group(0)
    assert 'data-testid="sign-out"' in form.group(0)
    assert 'href="/admin/"' not in html  # not staff


# --- Keel's entrance pages --------------------------------------------------------------------


def test_the_two_factor_step_without_a_pending_sign_in_goes_back_to_login(client: Client):
    response = client.get("/accounts/2fa/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_two_factor_challenge_template(rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    request = rf.post("/accounts/2fa/")
    request.user = AnonymousUser()
    form = CodeForm({"code": "<b>12</b>"})
    form.is_valid()
    form.add_error("code", "Invalid two-factor authentication code")
    html = render_to_string("account/two_factor_challenge.html", {"form": form}, request=request)
    assert_keel_html(html)
    assert has_testid(html, "otp-code")
    assert has_testid(html, "otp-submit")
    assert "Invalid two-factor authentication code" in html
    assert "XXXX-XXXX" in html
    assert 'href="/accounts/login/"' in html
    assert "<b>12</b>" not in html  # the posted value is escaped
    assert 'aria-invalid="true"' in html


def test_verify_email_with_a_bad_link(client: Client):
    html = keel_page(client.get("/verify-email?token=nope"), status=400)
    assert has_testid(html, "verify-result")
    assert 'href="/accounts/login/"' in html


def test_verify_email_success(client: Client, alice: User):
    alice.email_verified = False
    alice.save()
    token = links.email_verification_token_issue(user=alice)
    html = keel_page(client.get(f"/verify-email?token={token}"))
    result = re.search(r'data-testid="verify-result".*?</div>', html, re.S)
    assert result is not None and "Email verified" in result.group(0)
    assert alice.email in html


def test_reset_password_with_a_bad_link(client: Client):
    html = keel_page(client.get("/reset-password?token=nope"), status=400)
    assert has_testid(html, "reset-invalid")
    assert 'href="/accounts/password/reset/"' in html


def test_reset_password_form_and_errors(client: Client, alice: User):
    token = links.password_reset_token_issue(user=alice)
    html = keel_page(client.get(f"/reset-password?token={token}"))
    for name in ("new-password1", "new-password2", "reset-submit"):
        assert has_testid(html, name)
    assert f'name="token" value="{token}"' in html
    assert 'name="csrfmiddlewaretoken"' in html

    response = client.post(
        "/reset-password", {"token": token, "password1": "Abcdef-1234", "password2": "other"}
    )
    html = keel_page(response)
    assert "The two passwords do not match." in html
    assert 'id="id_password2_error"' in html


# --- /settings/security/ ----------------------------------------------------------------------


def test_security_requires_sign_in(client: Client):
    response = client.get("/settings/security/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_security_page_with_two_factor_off(client: Client, alice: User):
    client.force_login(alice)
    html = keel_page(client.get("/settings/security/"))
    assert has_testid(html, "2fa-setup")
    assert re.search(r'data-testid="2fa-status">Off<', html)
    assert has_testid(html, "email-status") and "Verified" in html
    assert not has_testid(html, "resend-verification")
    assert not has_testid(html, "2fa-qr")
    assert not has_testid(html, "backup-codes")
    assert 'href="/settings/login-history/"' in html


def test_security_page_offers_a_new_verification_email(client: Client, alice: User):
    alice.email_verified = False
    alice.save()
    client.force_login(alice)
    html = keel_page(client.get("/settings/security/"))
    form = re.search(
        r'<form[^>]*action="/settings/security/verification/resend".*?</form>', html, re.S
    )
    assert form is not None
    assert has_testid(form.group(0), "resend-verification")
    assert "csrfmiddlewaretoken" in form.group(0)


def test_security_page_during_two_factor_setup(client: Client, alice: User):
    setup = two_factor.two_factor_setup(user=alice)
    client.force_login(alice)
    html = keel_page(client.get("/settings/security/"))
    assert has_testid(html, "2fa-qr")
    assert "<svg" in html  # the QR code, output unescaped
    assert re.search(rf'data-testid="2fa-secret">{setup.secret}<', html)
    assert has_testid(html, "2fa-code")
    assert has_testid(html, "2fa-enable")
    assert 'action="/settings/security/2fa/enable"' in html
    assert not has_testid(html, "2fa-setup")


def test_security_page_with_two_factor_on_and_new_backup_codes(client: Client, alice: User):
    enrol(alice)
    client.force_login(alice)
    html = keel_page(client.post("/settings/security/2fa/backup-codes", {"code": totp_code(alice)}))
    assert re.search(r'data-testid="2fa-status">On<', html)
    assert has_testid(html, "backup-codes")
    assert len(re.findall(r">[A-Z0-9]{4}-[A-Z0-9]{4}<", html)) == 10
    assert 'action="/settings/security/2fa/backup-codes"' in html
    assert 'action="/settings/security/2fa/disable"' in html
    assert 'class="btn btn-danger"' in html
    assert not has_testid(html, "2fa-setup")
    # The codes are shown once.
    html = keel_page(client.get("/settings/security/"))
    assert not has_testid(html, "backup-codes")


def test_security_page_lists_sessions_and_recent_sign_ins(client: Client, alice: User):
    current = new_session(alice)
    other = new_session(alice, user_agent="<script>alert(1)</script>", ip="198.51.100.9")
    LoginHistory.objects.create(
        user=alice,
        success=False,
        failure_reason=FailureReason.INVALID_PASSWORD,
        auth_method=AuthMethod.PASSWORD,
        device_info="<img src=x>",
        ip_address="198.51.100.9",
        created_at=timezone.now(),
    )
    client.force_login(alice)
    set_session(client, keel_session_id=current.pk)
    html = keel_page(client.get("/settings/security/"))

    rows = re.findall(r'<tr data-testid="session-row" data-session-id="(\d+)"', html)
    assert sorted(int(pk) for pk in rows) == sorted([current.pk, other.pk])
    assert has_testid(html, "current-session")
    assert not has_testid(html, f"revoke-session-{current.pk}")
    assert has_testid(html, f"revoke-session-{other.pk}")
    assert f'action="/settings/security/sessions/{other.pk}/revoke"' in html
    assert has_testid(html, "revoke-other-sessions")
    assert "<img src=x>" not in html  # user data is escaped
    assert "Invalid password" in html
    assert 'class="badge badge-danger"' in html
    assert "csrfmiddlewaretoken" in html


def test_login_history_page_paginates(client: Client, alice: User):
    LoginHistory.objects.bulk_create(
        LoginHistory(user=alice, success=True, auth_method=AuthMethod.PASSWORD) for _ in range(30)
    )
    client.force_login(alice)
    html = keel_page(client.get("/settings/login-history/"))
    assert html.count('data-testid="history-row"') == 25
    assert 'href="?page=2"' in html
    html = keel_page(client.get("/settings/login-history/?page=2"))
    assert html.count('data-testid="history-row"') == 5
    assert 'href="?page=1"' in html
