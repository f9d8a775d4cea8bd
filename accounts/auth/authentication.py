"""Token authentication for API views (contract §0.3): the `auth_token` cookie first, then
`Authorization: Bearer <JWT>`. Organization API keys (`keel_…`) are left to their own class."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.core.selectors import user_get_cached
from accounts.core.tokens import decode_access_token, is_blacklisted
from accounts.models import STAFF_ROLES, User
from config import routes
from config.context import impersonator_id_var, user_id_var
from config.errors import DomainError, TokenInvalid
from security.principal import Principal

ACCESS_COOKIE = "auth_token"
API_KEY_PREFIX = "keel_"


def presented_token(request: HttpRequest) -> str | None:
    """The access token a request carries: cookie first, else a Bearer JWT."""
    cookie = request.COOKIES.get(ACCESS_COOKIE)
    if cookie:
        return cookie
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
        if token and not token.startswith(API_KEY_PREFIX):
            return token
    return None


class TokenFailed(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.keel_code = code


def user_for_claims(claims: dict[str, Any]) -> User:
    """The live user a token speaks for; raises the contract's 401 codes otherwise."""
    user = user_get_cached(claims["user_id"])
    if user is None or user.deleted_at is not None:
        raise TokenFailed("UNAUTHORIZED", "Authentication required")
    if not user.is_active:
        raise TokenFailed("ACCOUNT_INACTIVE", "Account is inactive")
    return user


class EmailNotVerified(exceptions.PermissionDenied):
    """Raised during authentication, so a DRF exception (DRF then treats the request as
    anonymous for anything that looks again)."""

    keel_code = "EMAIL_NOT_VERIFIED"
    default_detail = "Please verify your email address to continue"


def require_verified_email(request: Request, user: User) -> None:
    """ACCOUNT_EMAIL_VERIFICATION=mandatory (contract §13.1): unverified users get 403
    EMAIL_NOT_VERIFIED except on /auth/*, GET /users/me, /csrf-token and health."""
    if settings.EMAIL_VERIFICATION != "mandatory" or user.email_verified:
        return
    if routes.VERIFICATION_EXEMPT.matches(request._request.path, request.method):
        return
    raise EmailNotVerified()


class JWTAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, dict[str, Any]] | None:
        token = presented_token(request._request)
        if token is None:
            return None
        try:
            peeked = getattr(request._request, "_keel_jwt_peeked", None)
            if peeked is not None and peeked[0] == token:  # verified by jwt_principal already
                claims = peeked[1]
                if is_blacklisted(token):
                    raise TokenInvalid("Token has been revoked")
            else:
                claims = decode_access_token(token)
        except DomainError as exc:
            raise TokenFailed(exc.code, exc.message) from None
        user = user_for_claims(claims)
        require_verified_email(request, user)
        request._request.keel_token_claims = claims  # type: ignore[attr-defined]  # Keel's own request attribute
        user_id_var.set(user.pk)
        if claims.get("original_user_id"):
            impersonator_id_var.set(claims["original_user_id"])
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def jwt_principal(request: HttpRequest) -> Principal | None:
    """Principal for rate limits and idempotency from a signed token (no database)."""
    token = presented_token(request)
    if token is None:
        return None
    try:
        claims = decode_access_token(token, check_blacklist=False)
    except DomainError:
        return None
    request._keel_jwt_peeked = (token, claims)  # type: ignore[attr-defined]  # Keel's own request attribute
    return Principal(key=f"user:{claims['user_id']}", is_staff=claims.get("role") in STAFF_ROLES)
