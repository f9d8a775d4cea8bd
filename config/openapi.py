"""drf-spectacular hooks: one copy of each route (the /api/v1 canonical path), and the
statuses and input rules the request pipeline adds to every operation, so that a client
generated from the document can trust it (docs/architecture.md, "The OpenAPI document").

Rules that hold for every operation live here; rules of one operation are declared on its
view with `extend_schema` (an error status declared there without a body gets the envelope
here)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

INT64_MAX = 2**63 - 1

# Any operation under /api: the pipeline (contract §0.13) can answer these before the view.
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
# POST/PUT/PATCH: any caller with credentials may send an Idempotency-Key (contract §0.10).
WRITE_STATUSES = {
    "409": "Conflict (duplicate or state conflict), or the same Idempotency-Key is in flight",
    "422": "IDEMPOTENCY_CONFLICT: the Idempotency-Key was used with a different request",
}
# Operations that read a request body: a Content-Type Keel does not parse.
BODY_STATUSES = {"415": "Unsupported media type (send application/json)"}
# Health routes skip the blocklist, rate limits, maintenance and authentication (§1).
HEALTH_STATUSES = {
    "400": "Malformed input refused at the edge (NUL, lone surrogates, integers beyond 64 bits)",
    "405": ERROR_STATUSES["405"],
    "413": ERROR_STATUSES["413"],
    "500": ERROR_STATUSES["500"],
    "503": "The database is unavailable",
}
WRITE_METHODS = ("post", "put", "patch")
# The edge refuses NUL in any text (config/input_guard.py); lone surrogates cannot be written
# in a pattern, and JSON Schema generators do not produce them.
NO_NUL = "^[^\\x00]*$"
JSON = "application/json"

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Replays the stored response of an earlier request with the same key and body for "
        "24 h (`Idempotent-Replayed: true`); ignored for anonymous callers."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~](?:[ -~]*[!-~])?$",
    },
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
    """Every operation documents the statuses the pipeline can answer, each with the error
    envelope; request bodies are JSON; ids are 64-bit."""
    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            body = operation.get("requestBody")
            if body:
                _json_only(body)
            statuses = dict(ERROR_STATUSES) if path.startswith("/api/") else dict(HEALTH_STATUSES)
            if path.startswith("/api/") and method in WRITE_METHODS:
                statuses.update(WRITE_STATUSES)
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
            if body and JSON in body.get("content", {}):
                statuses.update(BODY_STATUSES)
            responses = operation["responses"]
            for status, description in statuses.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45" and not response.get("content"):
                    response["content"] = {JSON: {"schema": ref}}
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    _bounded_id(parameter.get("schema", {}), minimum=1)
                elif parameter.get("in") == "query":
                    _bounded_id(parameter.get("schema", {}), minimum=-INT64_MAX - 1)
                    _no_nul(parameter.get("schema", {}))
    for name, schema in schemas.items():
        if name.endswith("Request"):
            for prop in schema.get("properties", {}).values():
                _bounded_id(prop, minimum=-INT64_MAX - 1)
                _no_nul(prop)
    return result


def _json_only(body: dict[str, Any]) -> None:
    """Request bodies are JSON (contract §0.2). DRF also parses form encodings, a tolerance
    the document does not promise; an operation documented only otherwise (an upload) keeps
    its own media type."""
    content = body.get("content", {})
    if JSON in content:
        body["content"] = {JSON: content[JSON]}


def _no_nul(schema: dict[str, Any]) -> None:
    """Free text (no pattern, enum or format of its own) documents that NUL is refused."""
    if schema.get("type") == "string" and not ({"pattern", "enum", "format"} & set(schema)):
        schema["pattern"] = NO_NUL


def _bounded_id(schema: dict[str, Any], *, minimum: int) -> None:
    """An integer without bounds is a database id or count: 64-bit signed (a larger one is a
    400 at the edge)."""
    if schema.get("type") == "integer":
        schema.setdefault("format", "int64")
        schema.setdefault("minimum", minimum)
        schema.setdefault("maximum", INT64_MAX)


class SessionScheme(OpenApiAuthenticationExtension):
    """Documents Keel's session authentication (browser sign-in) in the schema."""

    target_class = "config.authentication.SessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class JWTScheme(OpenApiAuthenticationExtension):
    """Access JWT in `Authorization: Bearer` (or the `auth_token` cookie for browsers)."""

    target_class = "accounts.auth.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class APIKeyScheme(OpenApiAuthenticationExtension):
    """Organization API keys (`keel_…`) in `Authorization: Bearer` or `X-API-Key`."""

    target_class = "organizations.authentication.APIKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
