from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, set_response_etag

from config import routes
from config.middleware.base import Middleware

NO_STORE = "no-cache, no-store, must-revalidate"
RULES: list[tuple[routes.RouteGroup, str]] = [
    (routes.CACHE_PUBLIC_SHORT, "public, max-age=5"),
    (routes.CACHE_CHANGELOG, "public, max-age=60"),
    (routes.CACHE_NO_STORE, NO_STORE),
    (routes.CACHE_FILE_LINKS, "private, max-age=300"),
    (routes.CACHE_PRIVATE, "private, no-cache"),
]


def cache_control_for(path: str) -> str | None:
    for group, value in RULES:
        if group.matches(path):
            return value
    return None


class CacheHeadersMiddleware(Middleware):
    """Cache-Control per contract §13.6, plus ETag / If-None-Match on JSON GETs."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not settings.CACHE_HEADERS_ENABLED or request.method not in ("GET", "HEAD"):
            return response
        if "Cache-Control" not in response:
            value = cache_control_for(request.path)
            if value:
                response["Cache-Control"] = value
                if value == NO_STORE:
                    response["Pragma"] = "no-cache"
                    response["Expires"] = "0"
        if (
            response.status_code == 200
            and not response.streaming
            and response.get("Content-Type", "").startswith("application/json")
        ):
            set_response_etag(response)
            conditional = get_conditional_response(
                request, etag=response["ETag"], response=response
            )
            if conditional is not None and conditional is not response:  # a 304 or a 412
                return conditional
        return response
