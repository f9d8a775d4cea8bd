from __future__ import annotations

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse

from config.errors import error_response, exception_to_response, is_api_path, report_exception
from config.middleware.base import Middleware

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
}


class RecoveryMiddleware(Middleware):
    """Unhandled exceptions never reach an API client as HTML or a traceback.

    - A view's exception on an API path becomes the JSON envelope (500, reported to logs and
      Sentry), whatever DEBUG says.
    - An HTML error page produced deeper in the stack for an API path (Django's debug or
      default pages) is replaced by the envelope with the same status.
    - Page exceptions are logged here and rendered by handler500 (templates/errors/500.html).
    """

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            status = response.status_code
            code = _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
            message = "An unexpected error occurred" if status >= 500 else response.reason_phrase
            replacement = error_response(status, code, message)
            for name, value in response.items():  # Allow, Vary, CORS, security headers…
                if name.lower() not in {"content-type", "content-length"}:
                    replacement.setdefault(name, value)
            return replacement
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api_path(request.path):
            return exception_to_response(exception, request)
        if not isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation):
            report_exception(exception, request, sentry=False)  # Django's signal reports it
        return None
