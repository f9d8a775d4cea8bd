"""Domain errors and the one place that renders the contract's error envelope (§0.7).

Services raise `DomainError` subclasses; DRF views let them propagate to
`api_exception_handler`; middleware and plain Django views call `error_response`.
Nothing else formats an error body.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from config import routes
from config.context import current_request_id

logger = logging.getLogger("keel.errors")


class DomainError(Exception):
    """A business-rule failure with a machine code, rendered as the error envelope."""

    status: int = 400
    code: str = "BAD_REQUEST"
    default_message: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        details: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # `text` is the message as a page shows it beside its field; `message` is the
        # envelope's, which starts with "<field>: " (contract §0.7).
        self.text = (message or self.default_message).removeprefix(f"{field}: ")
        self.message = f"{field}: {self.text}" if field else self.text
        self.field = field
        self.details = details
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequest(DomainError):
    pass


class ValidationFailed(DomainError):
    code = "VALIDATION_ERROR"
    default_message = "Invalid input"

    @classmethod
    def for_field(cls, field: str, message: str, code: str = "invalid") -> ValidationFailed:
        return cls(
            message, field=field, details=[{"field": field, "message": message, "code": code}]
        )


class Unauthorized(DomainError):
    status = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication required"


class TokenExpired(Unauthorized):
    code = "TOKEN_EXPIRED"
    default_message = "Token has expired"


class TokenInvalid(Unauthorized):
    code = "TOKEN_INVALID"
    default_message = "Invalid token"


class Forbidden(DomainError):
    status = 403
    code = "FORBIDDEN"
    default_message = "You do not have permission to perform this action"


class NotFound(DomainError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Resource not found"


class Conflict(DomainError):
    status = 409
    code = "CONFLICT"
    default_message = "Conflict"


class IdempotencyConflict(DomainError):
    status = 422
    code = "IDEMPOTENCY_CONFLICT"
    default_message = "Idempotency-Key was already used with a different request"


class PaymentRequired(DomainError):
    status = 402
    code = "PAYMENT_REQUIRED"
    default_message = "Payment required"


class RequestTooLarge(DomainError):
    status = 413
    code = "REQUEST_TOO_LARGE"
    default_message = "Request body too large"


class RateLimited(DomainError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests. Please try again later."


class ServiceUnavailable(DomainError):
    status = 503
    code = "INTERNAL_ERROR"
    default_message = "Service temporarily unavailable"


# --- Rendering --------------------------------------------------------------------------------


def error_body(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    retry_after: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "code": status,
        "request_id": current_request_id() or "",
    }
    if details:
        body["details"] = details
    if retry_after is not None:
        body["retry_after"] = retry_after
    return body


def envelope_headers(
    status: int, retry_after: int | None, extra: Mapping[str, str] | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    headers.update(extra or {})
    return headers


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    """A plain Django JSON response carrying the envelope (for middleware and non-DRF views)."""
    return JsonResponse(
        error_body(status, code, message, details=details, retry_after=retry_after),
        status=status,
        headers=envelope_headers(status, retry_after, headers),
    )


def flatten_validation(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested error detail into `[{field, message, code}]` with dotted/indexed paths."""
    out: list[dict[str, str]] = []
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF reports list items as {index: errors}
                path = f"{prefix}[{key}]"
            else:
                name = "" if key == "non_field_errors" else str(key)
                path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            out.extend(flatten_validation(value, path))
    elif isinstance(detail, list | tuple):
        if detail and all(isinstance(d, str) for d in detail):
            for item in detail:
                out.append(
                    {
                        "field": prefix,
                        "message": str(item),
                        "code": getattr(item, "code", "invalid") or "invalid",
                    }
                )
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                out.extend(flatten_validation(item, f"{prefix}[{index}]"))
    elif detail is not None:
        out.append(
            {"field": prefix, "message": str(detail), "code": getattr(detail, "code", "invalid")}
        )
    return out


def validation_message(details: Iterable[Mapping[str, str]]) -> str:
    first = next(iter(details), None)
    if not first:
        return "Invalid input"
    return f"{first['field']}: {first['message']}" if first["field"] else first["message"]


def _drf_to_envelope(
    exc: drf_exceptions.APIException,
) -> tuple[int, str, str, list[dict[str, str]] | None]:
    status = exc.status_code
    if isinstance(exc, drf_exceptions.ValidationError):
        details = flatten_validation(exc.detail)
        return 400, "VALIDATION_ERROR", validation_message(details), details or None
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return 401, "UNAUTHORIZED", "Authentication required", None
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        code = getattr(exc, "keel_code", "UNAUTHORIZED")
        return 401, code, str(exc.detail), None
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return 403, getattr(exc, "keel_code", "FORBIDDEN"), str(exc.detail), None
    if isinstance(exc, drf_exceptions.NotFound):
        message = str(exc.detail)
        if message == str(drf_exceptions.NotFound.default_detail):
            message = "Resource not found"
        return 404, "NOT_FOUND", message, None
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return 405, "BAD_REQUEST", str(exc.detail), None
    if isinstance(exc, drf_exceptions.ParseError):
        return 400, "BAD_REQUEST", f"Malformed request body: {exc.detail}", None
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return 415, "BAD_REQUEST", str(exc.detail), None
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return 406, "BAD_REQUEST", str(exc.detail), None
    if isinstance(exc, drf_exceptions.Throttled):
        return 429, "RATE_LIMITED", RateLimited.default_message, None
    code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}.get(status)
    if code is None:
        code = "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"
    return status, code, str(exc.detail), None


def report_exception(
    exc: BaseException, request: HttpRequest | None = None, *, sentry: bool = True
) -> None:
    """Log an unexpected exception with its traceback and send it to Sentry (if configured)."""
    logger.error(
        "Unhandled exception: %s",
        exc.__class__.__name__,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"path": getattr(request, "path", None)},
    )
    if sentry and settings.SENTRY_DSN:
        import sentry_sdk

        sentry_sdk.capture_exception(exc)


Envelope = tuple[int, dict[str, Any], dict[str, str]]


def _envelope(
    status: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, str]] | None = None,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Envelope:
    body = error_body(status, code, message, details=details, retry_after=retry_after)
    return status, body, envelope_headers(status, retry_after, headers)


def exception_to_envelope(exc: BaseException, request: HttpRequest | None = None) -> Envelope:
    """Map any exception to (status, body, headers); unexpected ones are reported as a 500."""
    if isinstance(exc, DomainError):
        return _envelope(
            exc.status,
            exc.code,
            exc.message,
            details=exc.details,
            retry_after=exc.retry_after,
            headers=exc.headers,
        )
    if isinstance(exc, drf_exceptions.APIException):
        status, code, message, details = _drf_to_envelope(exc)
        retry_after = None
        if isinstance(exc, drf_exceptions.Throttled):
            # DRF sets `wait` in Throttled.__init__; djangorestframework-stubs 3.16 omit it.
            wait: float | None = exc.wait  # type: ignore[attr-defined]
            if wait is not None:
                retry_after = max(1, int(wait))
        return _envelope(status, code, message, details=details, retry_after=retry_after)
    if isinstance(exc, Http404):
        return _envelope(404, "NOT_FOUND", "Resource not found")
    if isinstance(exc, RequestDataTooBig):
        return _envelope(413, "REQUEST_TOO_LARGE", RequestTooLarge.default_message)
    if isinstance(exc, PermissionDenied):
        return _envelope(403, "FORBIDDEN", Forbidden.default_message)
    if isinstance(exc, DjangoValidationError):
        raw = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        details = flatten_validation(raw)
        return _envelope(400, "VALIDATION_ERROR", validation_message(details), details=details)
    if isinstance(exc, SuspiciousOperation):
        return _envelope(400, "BAD_REQUEST", "Bad request")
    if isinstance(exc, OverflowError):
        # A number the edge check (config.input_guard) could not see, e.g. an id spelled as a
        # JSON string, too large for the database driver: the client's error, but logged with
        # its traceback so that the route can be given a proper check.
        logger.warning("Number out of range", exc_info=(type(exc), exc, exc.__traceback__))
        return _envelope(400, "BAD_REQUEST", "A number in the request is out of range")
    report_exception(exc, request)
    if _is_database_unavailable(exc):
        return _envelope(503, "INTERNAL_ERROR", "Service temporarily unavailable")
    return _envelope(500, "INTERNAL_ERROR", "An unexpected error occurred")


def exception_to_response(exc: BaseException, request: HttpRequest | None = None) -> JsonResponse:
    status, body, headers = exception_to_envelope(exc, request)
    return JsonResponse(body, status=status, headers=headers)


def _is_database_unavailable(exc: BaseException) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError)


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error raised in an API view becomes the envelope."""
    status, body, headers = exception_to_envelope(exc, context.get("request"))
    response = Response(data=body, status=status, headers=headers)
    if isinstance(exc, drf_exceptions.MethodNotAllowed) and context.get("view") is not None:
        response["Allow"] = ", ".join(context["view"].allowed_methods)
    return response


# --- Django-level handlers (handler404/500, CSRF failure) -------------------------------------


def is_api_path(path: str) -> bool:
    """Machine routes (API, health, metrics, /ws): errors are the JSON envelope."""
    return routes.JSON_ERRORS.matches(path)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON 403 CSRF_ERROR under /api, a friendly page elsewhere."""
    lowered = reason.lower()
    if "origin" in lowered or "referer" in lowered:
        message = "Origin not allowed"
    elif "incorrect" in lowered or "mismatch" in lowered:
        message = "CSRF token mismatch"
    else:
        message = "CSRF token missing"
    if is_api_path(request.path):
        return error_response(403, "CSRF_ERROR", message)
    return render(request, "errors/403_csrf.html", {"reason": message}, status=403)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(400, "BAD_REQUEST", "Bad request")
    return render(request, "errors/400.html", status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(403, "FORBIDDEN", Forbidden.default_message)
    return render(request, "errors/403.html", status=403)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(404, "NOT_FOUND", "Resource not found")
    return render(request, "errors/404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(500, "INTERNAL_ERROR", "An unexpected error occurred")
    try:
        return render(request, "errors/500.html", {"request_id": current_request_id()}, status=500)
    except Exception:  # the page itself must never fail
        return HttpResponse("Internal server error", status=500, content_type="text/plain")
