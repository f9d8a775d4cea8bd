from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from config import stamps
from config.context import request_id_var, sanitize_request_id
from config.middleware.base import Middleware


class RequestIDMiddleware(Middleware):
    """Adopt a sane inbound `X-Request-ID` or mint a UUID4; echo it on the response. Also opens
    the request's memo of version stamps (config/stamps.py)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sanitize_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id  # type: ignore[attr-defined]  # Keel's own request attribute
        token = request_id_var.set(request_id)
        try:
            with stamps.request_memo():
                response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
