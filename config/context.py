"""Per-request context (request id, user id, client IP) visible to logs, errors and jobs."""

from __future__ import annotations

import contextvars
import re
import uuid

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_ip", default=None
)
user_agent_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_agent", default="")
# Set by the accounts app while a super admin acts as another user (contract §13.8).
impersonator_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "impersonator_id", default=None
)


def new_request_id() -> str:
    return str(uuid.uuid4())


def sanitize_request_id(value: str | None) -> str:
    """Adopt a sane inbound id (contract §0.11), else mint a UUID4."""
    if value and REQUEST_ID_RE.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()
