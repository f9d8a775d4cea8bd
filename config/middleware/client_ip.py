from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config.context import client_ip_var, user_agent_var
from config.middleware.base import Middleware
from config.net import resolve_client_ip


class ClientIPMiddleware(Middleware):
    """Set `request.client_ip` (X-Forwarded-For trusted only from TRUSTED_PROXIES) and put the
    IP and user agent in the context (audit entries read them there)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ip = resolve_client_ip(
            request.META.get("REMOTE_ADDR"),
            request.META.get("HTTP_X_FORWARDED_FOR"),
            settings.TRUSTED_PROXIES,
        )
        request.client_ip = ip  # type: ignore[attr-defined]  # Keel's own request attribute
        token = client_ip_var.set(ip)
        ua_token = user_agent_var.set(request.META.get("HTTP_USER_AGENT", "")[:512])
        try:
            return self.get_response(request)
        finally:
            user_agent_var.reset(ua_token)
            client_ip_var.reset(token)
