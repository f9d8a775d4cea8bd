from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse

from config import metrics, routes
from config.context import impersonator_id_var, user_id_var
from config.middleware.base import Middleware

logger = logging.getLogger("keel.request")


def route_pattern(request: HttpRequest) -> str:
    """The matched URL pattern (`/api/v1/users/<int:pk>`), never the raw path (bounded labels)."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name == "not-found":
        return "<unmatched>"
    return "/" + (match.route or "").lstrip("^").rstrip("$")


class RequestLogMiddleware(Middleware):
    """One structured line per request; per-route Prometheus metrics."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        token = user_id_var.set(None)
        impersonator = impersonator_id_var.set(None)  # never leak into the thread's next request
        try:
            response = self.get_response(request)
        finally:
            user_id_var.reset(token)
            impersonator_id_var.reset(impersonator)
        duration = time.perf_counter() - started
        route = route_pattern(request)
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        metrics.observe_request(request.method or "GET", route, response.status_code, duration)
        level = logging.DEBUG if routes.QUIET_LOGS.matches(request.path) else logging.INFO
        if response.status_code >= 500:
            level = logging.ERROR
        logger.log(
            level,
            "%s %s %s",
            request.method,
            route,
            response.status_code,
            extra={
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 2),
                "user_id": user_id,
                "ip": getattr(request, "client_ip", None),
            },
        )
        return response
