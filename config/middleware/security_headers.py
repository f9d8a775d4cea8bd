from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from config import routes
from config.middleware.base import Middleware

# Swagger UI (served from local assets) needs inline styles and data: images only.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class SecurityHeadersMiddleware(Middleware):
    """The contract's security headers (§13.6). HSTS and HTTPS redirects are Django's
    SecurityMiddleware (only over HTTPS, only when enabled for production)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not settings.SECURITY_HEADERS_ENABLED:
            return response
        is_docs = routes.API_DOCS.matches(request.path)
        headers = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": settings.X_FRAME_OPTIONS,
            "X-XSS-Protection": "1; mode=block",
            "Content-Security-Policy": DOCS_CSP if is_docs else settings.SECURITY_CSP,
            "Referrer-Policy": settings.SECURE_REFERRER_POLICY,
            "Permissions-Policy": settings.SECURITY_PERMISSIONS_POLICY,
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if not is_docs:
            headers["Cross-Origin-Embedder-Policy"] = "require-corp"
        for name, value in headers.items():
            if name not in response:
                response[name] = value
        return response
