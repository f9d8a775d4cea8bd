"""Page requests made while impersonating (contract §13.8)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.auth.authentication import ACCESS_COOKIE, TokenFailed, user_for_claims
from accounts.core.tokens import decode_access_token
from config import routes
from config.context import impersonator_id_var
from config.errors import DomainError


class PageImpersonationMiddleware:
    """While the browser holds a valid impersonation token (`auth_token` with
    `original_user_id`), the server-rendered pages act as the impersonated user — the same
    account the banner names and the API serves — and audit entries carry `impersonated_by`.
    API routes authenticate on their own (JWTAuthentication reads the same cookie first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request.COOKIES.get(ACCESS_COOKIE)
        if token and not routes.API_ROUTES.matches(request.path):
            try:
                claims = decode_access_token(token)
                if claims.get("original_user_id"):
                    request.user = user_for_claims(claims)
                    request.keel_token_claims = claims  # type: ignore[attr-defined]  # Keel's own request attribute
                    impersonator_id_var.set(claims["original_user_id"])
            except (DomainError, TokenFailed):
                pass  # not (or no longer) impersonating: the session decides
        return self.get_response(request)
