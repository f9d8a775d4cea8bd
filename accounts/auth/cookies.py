"""The auth cookies (contract §0.4): `auth_token` (access JWT, path /) and `refresh_token`
(opaque, path /api/v1/auth only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpResponseBase

from accounts.auth.authentication import ACCESS_COOKIE
from security.system_settings import get_setting

if TYPE_CHECKING:
    from accounts.auth.sessions import SignIn

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def _cookie_flags() -> dict[str, Any]:
    return {
        "secure": settings.COOKIE_SECURE,
        "httponly": True,
        "samesite": settings.COOKIE_SAMESITE,
        "domain": settings.COOKIE_DOMAIN,
    }


def set_auth_cookies(response: HttpResponseBase, sign_in: SignIn) -> None:
    response.set_cookie(
        ACCESS_COOKIE,
        sign_in.access.token,
        max_age=sign_in.access.expires_in,
        path="/",
        **_cookie_flags(),
    )
    response.set_cookie(
        REFRESH_COOKIE,
        sign_in.refresh_token,
        max_age=int(get_setting("session_timeout_minutes")) * 60,
        path=REFRESH_COOKIE_PATH,
        **_cookie_flags(),
    )


def clear_auth_cookies(response: HttpResponseBase) -> None:
    response.delete_cookie(
        ACCESS_COOKIE, path="/", domain=settings.COOKIE_DOMAIN, samesite=settings.COOKIE_SAMESITE
    )
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        domain=settings.COOKIE_DOMAIN,
        samesite=settings.COOKIE_SAMESITE,
    )
