"""Sign-in with Google and GitHub (contract §2, §2.3) on django-allauth.

allauth runs the OAuth dance (state in the session, single use; code exchange; profile), and
Keel's SocialAccountAdapter calls these services to decide:

* a known (provider, uid) signs in its user;
* else a Keel account with the same address is linked, if the provider verified the address
  and so had Keel (an unverified Keel account could be someone else's pre-registration);
* else a new account is created (no password, verified address);
* in link mode (`?link=true`) the identity is attached to the signed-in user, unless it
  already belongs to another one.

Two flavours share this: the pages (`/accounts/<provider>/login/`, Django session) and the API
(`GET /auth/oauth/<provider>`, for the React client), which ends in a redirect to
`{FRONTEND_URL}/auth/callback?success=true` with the JWT cookies set. No provider token is
stored (SOCIALACCOUNT_STORE_TOKENS is off), so there is nothing to encrypt at rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.auth import services
from accounts.models import User
from config import realtime, routes
from config.errors import BadRequest, NotFound
from security.services import audit_record

PROVIDERS = ("google", "github")
API_FLAVOUR = "keel_api"
LINK_USER = "keel_link_user_id"


class OAuthRefused(Exception):
    """The sign-in cannot go on; `message` is shown to the person (or sent as `?error=`)."""

    def __init__(self, message: str, *, link: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.link = link


@dataclass(frozen=True)
class OAuthStart:
    url: str
    state: str
    response: HttpResponse


# --- Starting -----------------------------------------------------------------------------------


def provider_for(request: HttpRequest, provider_id: str) -> Any:
    """The configured allauth provider (404 for unknown or unconfigured ones)."""
    if provider_id not in PROVIDERS:
        raise NotFound("Unknown OAuth provider")
    try:
        return get_social_adapter(request).get_provider(request, provider_id)
    except SocialApp.DoesNotExist:
        raise NotFound(f"OAuth provider {provider_id} is not configured") from None


def oauth_start(*, request: HttpRequest, provider_id: str, link_user: User | None) -> OAuthStart:
    """The provider's authorisation URL for an API client; the state is kept in the browser's
    session (ten minutes, single use)."""
    provider = provider_for(request, provider_id)
    data: dict[str, object] = {API_FLAVOUR: True}
    if link_user is not None:
        data[LINK_USER] = link_user.pk
    response = provider.redirect(request, "login", data=data)
    url = response.get("Location", "")
    if not url:
        raise BadRequest("Could not start the OAuth sign-in")
    state = parse_qs(urlparse(url).query).get("state", [""])[0]
    return OAuthStart(url=url, state=state, response=response)


# --- Results ------------------------------------------------------------------------------------


def _state_data(sociallogin: SocialLogin) -> dict[str, Any]:
    data = (sociallogin.state or {}).get("data")
    return data if isinstance(data, dict) else {}


def is_api_flavour(sociallogin: SocialLogin | None, request: HttpRequest) -> bool:
    if routes.API_ROUTES.matches(request.path):
        return True
    return bool(sociallogin is not None and _state_data(sociallogin).get(API_FLAVOUR))


def frontend_url(path: str, **params: str) -> str:
    return f"{settings.FRONTEND_URL}{path}?{urlencode(params)}"


def success_redirect(*, new_user: bool) -> str:
    params = {"success": "true"}
    if new_user:
        params["new_user"] = "true"
    return frontend_url("/auth/callback", **params)


def error_redirect(message: str, *, link: bool) -> HttpResponseRedirect:
    if link:
        return HttpResponseRedirect(frontend_url("/settings/connected-accounts", error=message))
    return HttpResponseRedirect(frontend_url("/auth/callback", error=message))


def _verified_emails(sociallogin: SocialLogin) -> set[str]:
    return {
        User.objects.normalize_email(a.email) for a in sociallogin.email_addresses if a.verified
    }


def oauth_resolve(*, request: HttpRequest, sociallogin: SocialLogin) -> User | None:
    """Decide what an authenticated provider identity means (before allauth signs anyone in).

    Returns the user the identity was just linked to in link mode (the caller then ends the
    flow), or None to let allauth sign in the existing or new user. Raises OAuthRefused."""
    provider = sociallogin.account.provider
    data = _state_data(sociallogin)
    link_user_id = data.get(LINK_USER)
    if link_user_id is None and sociallogin.state.get("process") == "connect":
        link_user_id = request.user.pk if request.user.is_authenticated else None
    if link_user_id is not None:
        user = User.objects.alive().filter(pk=link_user_id, is_active=True).first()
        if user is None:
            raise OAuthRefused("Your session has ended; sign in again", link=True)
        oauth_account_link(user=user, sociallogin=sociallogin)
        return user
    if sociallogin.is_existing:
        user = sociallogin.user
        if user is None or user.deleted_at is not None or not user.is_active:
            raise OAuthRefused("This account is not active")
        return None
    emails = _verified_emails(sociallogin)
    claimed = User.objects.filter(
        email__in=[User.objects.normalize_email(a.email) for a in sociallogin.email_addresses]
    ).first()
    if claimed is None:
        email = User.objects.normalize_email(sociallogin.user.email if sociallogin.user else "")
        if not email or email not in emails:
            # A new account needs an address the provider vouches for; otherwise anyone could
            # claim someone else's address before they sign up.
            raise OAuthRefused(
                f"Your {provider.title()} account has no verified email address. Verify one "
                f"with {provider.title()}, or sign up with email and password"
            )
        return None  # allauth signs up a new user through SocialAccountAdapter.save_user
    if claimed.deleted_at is not None or not claimed.is_active:
        raise OAuthRefused("This account is not active")
    if claimed.email not in emails or not claimed.email_verified:
        raise OAuthRefused(
            "An account with this email already exists. Sign in with your password, then "
            f"connect {provider.title()} from your account settings"
        )
    oauth_account_link(user=claimed, sociallogin=sociallogin, by_email=True)
    return None


def oauth_account_link(
    *, user: User, sociallogin: SocialLogin, by_email: bool = False
) -> SocialAccount:
    """Attach a provider identity to `user` (refused if it belongs to someone else)."""
    account = sociallogin.account
    with transaction.atomic():
        existing = SocialAccount.objects.filter(provider=account.provider, uid=account.uid).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise OAuthRefused("This account is already linked to another user", link=True)
            return existing
        if SocialAccount.objects.filter(user=user, provider=account.provider).exists():
            raise OAuthRefused(
                f"Another {account.provider.title()} account is already connected", link=True
            )
        sociallogin.connect(request=None, user=user)
        _sync_oauth_provider(user)
        audit_record(
            actor=user,
            action="oauth_link",
            target_type="user",
            target_id=user.pk,
            metadata={"provider": account.provider, "by_email": by_email},
        )
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
    return sociallogin.account


def oauth_user_create(
    *, request: HttpRequest, sociallogin: SocialLogin, typed_email: str = ""
) -> User:
    """A new account from a provider identity: no password; the address is verified when the
    provider vouched for it (an address typed on allauth's sign-up form is not)."""

    extra = sociallogin.account.extra_data or {}
    email = typed_email or (sociallogin.user.email if sociallogin.user else "")
    if not email:
        raise BadRequest("An email address is required")
    verified = User.objects.normalize_email(email) in _verified_emails(sociallogin)
    name = str(extra.get("name") or extra.get("login") or "")
    user = services.user_create(
        email=email, password=None, name=name, email_verified=verified, action="register_oauth"
    )
    sociallogin.user = user
    sociallogin.save(request, connect=False)
    _sync_oauth_provider(user)
    return user


def _sync_oauth_provider(user: User) -> None:
    """`User.oauth_provider` mirrors the first connected provider (read on every request)."""
    first = SocialAccount.objects.filter(user=user).order_by("date_joined", "pk").first()
    provider = first.provider if first else ""
    if user.oauth_provider != provider:
        user.oauth_provider = provider
        user.save(update_fields=["oauth_provider", "updated_at"])


# --- Reads and unlinking ------------------------------------------------------------------------


def oauth_accounts(*, user: User) -> list[SocialAccount]:
    return list(SocialAccount.objects.filter(user=user).order_by("date_joined"))


def account_email(account: SocialAccount) -> str:
    extra = account.extra_data or {}
    return str(extra.get("email") or "")


def oauth_account_unlink(*, user: User, provider: str) -> None:
    """Remove a connected provider (404 if unknown or not linked; 400 if it is the last way to
    sign in)."""
    if provider not in PROVIDERS:
        raise NotFound("Unknown OAuth provider")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        account = SocialAccount.objects.filter(user=user, provider=provider).first()
        if account is None:
            raise NotFound(f"No {provider} account is connected")
        others = SocialAccount.objects.filter(user=user).exclude(pk=account.pk).exists()
        if not user.has_usable_password() and not others:
            raise BadRequest(
                "This is your only way to sign in. Set a password or connect another provider first"
            )
        account.delete()
        oauth_after_disconnect(user=user, provider=provider)


def oauth_after_disconnect(*, user: User, provider: str) -> None:
    """An identity was removed (here or on allauth's connections page): keep the flag, audit,
    tell the user."""
    _sync_oauth_provider(user)
    audit_record(
        actor=user,
        action="oauth_unlink",
        target_type="user",
        target_id=user.pk,
        metadata={"provider": provider},
    )
    realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})
