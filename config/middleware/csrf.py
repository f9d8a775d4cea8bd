from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseForbidden
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token

from config import routes
from config.errors import is_api_path

AUTH_COOKIES = ("auth_token", "refresh_token", "sessionid")


def _enforced(request: HttpRequest) -> None:  # stands in for a view without csrf_exempt
    return None


def _has_token_credential(request: HttpRequest) -> bool:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    return auth[:7].lower() == "bearer " or "HTTP_X_API_KEY" in request.META


class KeelCsrfMiddleware(CsrfViewMiddleware):
    """Double-submit CSRF per contract §0.5, built on Django's checks.

    API views (DRF marks them csrf_exempt) are still checked when the request carries an
    auth cookie, or any cookie without a Bearer/API-key credential. Requests with no
    cookies, token-only clients and the Stripe webhook are exempt. Pages keep Django's
    rules. Safe requests that lack the cookie are given one.
    """

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        if is_api_path(request.path):
            if not self._api_needs_check(request):
                return None
            callback = _enforced
        return super().process_view(request, callback, callback_args, callback_kwargs)

    @staticmethod
    def _api_needs_check(request: HttpRequest) -> bool:
        if routes.CSRF_EXEMPT.matches(request.path) or not request.COOKIES:
            return False
        if any(name in request.COOKIES for name in AUTH_COOKIES):
            return True
        return not _has_token_credential(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            request.method in ("GET", "HEAD")
            and settings.CSRF_COOKIE_NAME not in request.COOKIES
            and not routes.NO_CSRF_COOKIE.matches(request.path)
            and response.status_code < 500
        ):
            get_token(request)
        return super().process_response(request, response)
