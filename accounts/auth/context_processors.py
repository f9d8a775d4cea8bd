"""Template context of the accounts app."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.auth.authentication import ACCESS_COOKIE
from accounts.core.selectors import user_get_cached
from accounts.core.tokens import decode_access_token


def impersonation(request: HttpRequest) -> dict[str, Any]:
    """`impersonation` = {name, email, user_id, original_user_id} while the browser's access
    token is an impersonation token (contract §13.8), for the banner in `base.html`. Uses the
    claims JWTAuthentication verified for this request, else verifies the `auth_token` cookie
    (signature, expiry, blacklist): a stopped or expired impersonation shows no banner."""
    from config.errors import DomainError

    claims = getattr(request, "keel_token_claims", None)
    if claims is None:
        token = request.COOKIES.get(ACCESS_COOKIE)
        if not token:
            return {}
        try:
            claims = decode_access_token(token)
        except DomainError:
            return {}
    if not claims.get("original_user_id"):
        return {}
    user = user_get_cached(claims["user_id"])
    email = user.email if user is not None else str(claims.get("email", ""))
    return {
        "impersonation": {
            "name": user.display_name if user is not None else email,
            "email": email,
            "user_id": claims["user_id"],
            "original_user_id": claims["original_user_id"],
        }
    }
