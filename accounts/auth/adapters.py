"""django-allauth adapters: allauth draws the browser pages and runs the OAuth dance; Keel's
services decide. Password checks go through `services.credentials_check` (lockout, history),
enrolled users meet Keel's 2FA stage, sign-up goes through `services.user_create`, and every
completed sign-in opens a Keel session row bound to the Django session
(`services.sign_in_complete`). Emails are Keel's jobs with Keel's hashed tokens.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect

from accounts.auth import oauth, services, sessions, verification
from accounts.auth.allauth_internals import get_authentication_records
from accounts.auth.cookies import set_auth_cookies
from accounts.models import AuthMethod, User
from config import routes
from config.errors import DomainError, Unauthorized
from config.net import request_client_ip
from security.system_settings import get_setting


def sign_in_method(request: HttpRequest, user: User) -> str:
    """What the allauth login recorded: OAuth provider, password + TOTP, or password."""
    records = get_authentication_records(request, user)
    methods = {r.get("method") for r in records}
    social = [r for r in records if r.get("method") == "socialaccount"]
    if social:
        return {"google": AuthMethod.OAUTH_GOOGLE, "github": AuthMethod.OAUTH_GITHUB}.get(
            social[-1].get("provider", ""), AuthMethod.PASSWORD
        )
    if "mfa" in methods:
        return AuthMethod.TWO_FACTOR
    return AuthMethod.PASSWORD


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(get_setting("allow_registration"))

    def authenticate(self, request: HttpRequest, **credentials: Any) -> User | None:
        """Keel's login steps 1-4; lockout and inactivity become form errors."""
        try:
            return services.credentials_check(
                email=credentials.get("email", ""),
                password=credentials.get("password", ""),
                meta=sessions.RequestMeta.of(request),
            )
        except Unauthorized as exc:
            if exc.code == "UNAUTHORIZED":
                return None  # allauth's "email address and/or password are not correct"
            raise forms.ValidationError(exc.message) from None
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def save_user(
        self, request: HttpRequest, user: User, form: forms.Form, commit: bool = True
    ) -> User:
        """Sign-up page: the same service as `POST /auth/register`."""
        data = form.cleaned_data
        try:
            return services.user_create(
                email=data["email"],
                password=data.get("password1"),
                name=data.get("name", ""),
            )
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def set_password(self, user: User, password: str) -> None:
        """allauth's password change/set pages: Keel's service (other sessions signed out,
        audit, email). allauth then keeps this browser signed in."""
        request = self.request
        keep = request.session.get("keel_session_id") if request is not None else None
        services.password_set(
            user=user,
            password=password,
            keep_session_id=keep if isinstance(keep, int) else None,
            ip=(request_client_ip(request) or "") if request is not None else "",
        )

    def get_login_stages(self) -> list[str]:
        return [*super().get_login_stages(), "accounts.auth.stages.TwoFactorStage"]

    def post_login(self, request: HttpRequest, user: User, **kwargs: Any) -> HttpResponse:
        """Every page sign-in (password, 2FA, OAuth) opens a Keel session bound to the Django
        session, writes history and audit, like the API."""
        if not request.session.session_key:
            request.session.save()
        sign_in = services.sign_in_complete(
            user=user,
            meta=sessions.RequestMeta.of(request),
            method=sign_in_method(request, user),
            django_session_key=request.session.session_key or "",
        )
        request.session["keel_session_id"] = sign_in.session.pk
        response = super().post_login(request, user, **kwargs)
        sociallogin = (kwargs.get("signal_kwargs") or {}).get("sociallogin")
        if sociallogin is not None and oauth.is_api_flavour(sociallogin, request):
            # The React client's OAuth: back to the front end, signed in with the JWT cookies.
            response = HttpResponseRedirect(
                oauth.success_redirect(new_user=bool(kwargs.get("signup")))
            )
            set_auth_cookies(response, sign_in)
        return response

    def logout(self, request: HttpRequest) -> None:
        services.page_session_end(
            user=request.user if request.user.is_authenticated else None,
            session_id=request.session.get("keel_session_id"),
        )
        super().logout(request)

    def send_confirmation_mail(
        self, request: HttpRequest, emailconfirmation: Any, signup: bool
    ) -> None:
        """allauth's own confirmation emails are replaced by Keel's (accounts.auth.verification)."""

        user = emailconfirmation.email_address.user
        if not user.email_verified:
            verification.email_verification_send(user=user)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """OAuth sign-in rules (contract §2.3) live in accounts.auth.oauth; this maps their outcomes to
    responses for the two flavours (pages, API)."""

    def is_open_for_signup(self, request: HttpRequest, sociallogin: Any) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        api = oauth.is_api_flavour(sociallogin, request)
        provider = sociallogin.account.provider
        try:
            linked_to = oauth.oauth_resolve(request=request, sociallogin=sociallogin)
        except oauth.OAuthRefused as exc:
            if api:
                raise ImmediateHttpResponse(
                    oauth.error_redirect(exc.message, link=exc.link)
                ) from None
            messages.error(request, exc.message)
            target = "socialaccount_connections" if exc.link else "account_login"
            raise ImmediateHttpResponse(redirect(target)) from None
        if linked_to is not None:  # link mode ends here, without a new sign-in
            if api:
                url = oauth.frontend_url("/settings/connected-accounts", linked=provider)
                raise ImmediateHttpResponse(HttpResponseRedirect(url))
            messages.success(request, f"{provider.title()} is now connected to your account.")
            raise ImmediateHttpResponse(redirect("socialaccount_connections"))

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        typed = form.cleaned_data.get("email", "") if form is not None else ""
        try:
            return oauth.oauth_user_create(
                request=request, sociallogin=sociallogin, typed_email=typed
            )
        except DomainError as exc:
            raise ImmediateHttpResponse(self._refusal(request, sociallogin, exc.message)) from None

    def validate_disconnect(self, account: Any, accounts: Any) -> None:
        """allauth's connections page: never remove the last way to sign in."""
        user = account.user
        if not user.has_usable_password() and len(accounts) <= 1:
            raise forms.ValidationError(
                "This is your only way to sign in. Set a password or connect another provider "
                "first."
            )

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        """Cancelled, denied, replayed or expired state, provider errors."""
        state = (extra_context or {}).get("state") or {}
        data = state.get("data") if isinstance(state, dict) else None
        api = routes.API_ROUTES.matches(request.path) or (
            isinstance(data, dict) and data.get(oauth.API_FLAVOUR)
        )
        if api:
            message = (
                "Sign-in was cancelled"
                if str(error) == "cancelled"
                else ("Sign-in with the provider failed; please try again")
            )
            link = isinstance(data, dict) and oauth.LINK_USER in data
            raise ImmediateHttpResponse(oauth.error_redirect(message, link=bool(link)))

    def _refusal(
        self, request: HttpRequest, sociallogin: SocialLogin, message: str
    ) -> HttpResponse:
        if oauth.is_api_flavour(sociallogin, request):
            return oauth.error_redirect(message, link=False)
        messages.error(request, message)
        return redirect("account_login")
