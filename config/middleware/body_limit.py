from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config import routes
from config.errors import RequestTooLarge, error_response
from config.middleware.base import Middleware

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def body_limit_for(path: str) -> int:
    """Per-route request body limits (contract §0.11)."""
    if routes.STRIPE_WEBHOOK.matches(path):
        return 64 * 1024
    if routes.FILE_UPLOAD.matches(path):
        return settings.MAX_FILE_SIZE_MB * 1024 * 1024
    if routes.AVATAR_UPLOAD.matches(path):
        return 5 * 1024 * 1024
    return settings.MAX_REQUEST_BODY_BYTES


class BodyLimitMiddleware(Middleware):
    """413 REQUEST_TOO_LARGE by Content-Length, or after reading a body sent without one."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Every method is checked by Content-Length: a GET with a huge body is buffered too.
        limit = body_limit_for(request.path)
        raw_length = request.META.get("CONTENT_LENGTH")
        try:
            length = int(raw_length) if raw_length else None
        except ValueError:
            return error_response(400, "BAD_REQUEST", "Invalid Content-Length header")
        if length is not None and length > limit:
            return self._too_large(limit)
        if length is None and request.method in BODY_METHODS and len(request.body) > limit:
            return self._too_large(limit)  # chunked: measure what arrived
        return self.get_response(request)

    @staticmethod
    def _too_large(limit: int) -> HttpResponse:
        return error_response(
            413,
            RequestTooLarge.code,
            f"Request body too large (limit {limit // 1024} KiB)",
            headers={"Connection": "close"},
        )
