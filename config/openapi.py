"""drf-spectacular hooks: one copy of each route (the /api/v1 canonical path) and the
error envelope as a shared component referenced by every error response."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_STATUSES = {
    "400": "Bad request or validation error",
    "401": "Not authenticated",
    "403": "Forbidden, CSRF or IP blocked",
    "404": "Not found",
    "405": "Method not allowed",
    "413": "Request body too large",
    "429": "Rate limited or account locked",
    "500": "Unexpected error",
    "503": "Dependency unavailable or maintenance",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "message", "code", "request_id"],
    "properties": {
        "error": {"type": "string", "example": "VALIDATION_ERROR"},
        "message": {"type": "string", "example": "email: Enter a valid email address"},
        "code": {"type": "integer", "example": 400},
        "request_id": {"type": "string"},
        "retry_after": {"type": "integer"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "code"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
}


def keep_canonical_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Drop the `/api/...` alias copies of `/api/v1/...` routes (and duplicate health routes)."""
    kept = []
    for endpoint in endpoints:
        path = endpoint[0]
        if path.startswith("/api/") and not path.startswith("/api/v1/"):
            continue
        if path.startswith("/api/v1/health"):
            continue
        kept.append(endpoint)
    return kept


def add_error_envelope(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Every operation documents the envelope for its possible error statuses."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, description in ERROR_STATUSES.items():
                operation["responses"].setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )
    return result


class SessionScheme(OpenApiAuthenticationExtension):
    """Documents Keel's session authentication (browser sign-in) in the schema."""

    target_class = "config.authentication.SessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class JWTScheme(OpenApiAuthenticationExtension):
    """Access JWT in `Authorization: Bearer` (or the `auth_token` cookie for browsers)."""

    target_class = "accounts.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class APIKeyScheme(OpenApiAuthenticationExtension):
    """Organization API keys (`keel_…`) in `Authorization: Bearer` or `X-API-Key`."""

    target_class = "organizations.authentication.APIKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
