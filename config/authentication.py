"""DRF authentication classes shared by every API view.

Browser sessions are authenticated here; the accounts app adds JWT (cookie + Bearer)
and organization API keys in front of it. CSRF is enforced once, by
`config.middleware.csrf.KeelCsrfMiddleware`, for every credential type.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication
from rest_framework.request import Request


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
        from accounts.authentication import require_verified_email

        require_verified_email(request, user)
        return result
