"""DRF authentication classes shared by every API view.

Browser sessions are authenticated here; the accounts app adds JWT (cookie + Bearer)
and organization API keys in front of it. CSRF is enforced once, by
`config.middleware.csrf.KeelCsrfMiddleware`, for every credential type.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework import authentication
from rest_framework.request import Request


@cache
def _user_checks() -> tuple[Callable[[Request, Any], None], ...]:
    """`settings.AUTHENTICATED_USER_CHECKS`: callables `(request, user)` that raise to refuse a
    signed-in user (accounts: mandatory email verification)."""
    return tuple(import_string(path) for path in settings.AUTHENTICATED_USER_CHECKS)


class SessionAuthentication(authentication.SessionAuthentication):
    """Django session auth without DRF's second CSRF check (the middleware owns CSRF)."""

    def enforce_csrf(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        # Unauthenticated API calls are 401 + WWW-Authenticate: Bearer (contract §0.3), never 403.
        return 'Bearer realm="api"'

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        if getattr(user, "deleted_at", None) is not None:
            return None
        for check in _user_checks():
            check(request, user)
        return result
