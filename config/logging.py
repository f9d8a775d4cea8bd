"""Structured logging: JSON lines in production, readable lines in development.

Every record carries the request id, user id and client IP of the request being served
(or of the job, which adopts the id of the request that enqueued it). Values under keys
that look secret are redacted before they are written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from config.context import client_ip_var, request_id_var, user_id_var

SENSITIVE_KEY_RE = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|^key$|authorization|cookie|session|otp|csrf|signature",
    re.IGNORECASE,
)
REDACTED = "[REDACTED]"
_STANDARD_ATTRS = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(value: Any, depth: int = 0) -> Any:
    """Return a copy of `value` with secret-looking keys masked (recursively)."""
    if depth > 6:
        return value
    if isinstance(value, Mapping):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and SENSITIVE_KEY_RE.search(k)
                else redact(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, depth + 1) for v in value]
    return value


class RequestContextFilter(logging.Filter):
    """Attach request_id/user_id/ip from the context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = user_id_var.get()
        if not getattr(record, "ip", None):
            record.ip = client_ip_var.get()
        return True


class JSONFormatter(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "time")
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["level"] = log_data.pop("levelname", record.levelname).lower()
        log_data["logger"] = log_data.pop("name", record.name)
        for key in list(log_data):
            if key not in {"message", "level", "logger", "time"} and SENSITIVE_KEY_RE.search(key):
                log_data[key] = REDACTED
            else:
                log_data[key] = redact(log_data[key])
        if log_data.get("user_id") is None:
            log_data.pop("user_id", None)


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS level logger [request_id] message key=value …` for humans."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRS
            and k not in {"request_id", "user_id", "ip"}
            and v is not None
        }
        rid = getattr(record, "request_id", None)
        parts = [
            self.formatTime(record, "%H:%M:%S"),
            f"{record.levelname.lower():7}",
            record.name,
            f"[{rid[:8]}]" if rid else "",
            base,
        ]
        if extras:
            parts.append(" ".join(f"{k}={v}" for k, v in redact(extras).items()))
        return " ".join(p for p in parts if p)
