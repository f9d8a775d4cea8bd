"""Sentry initialisation (only when SENTRY_DSN is set)."""

from __future__ import annotations

import re

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint

from config.context import request_id_var
from config.logging import redact


def _before_send(event: Event, hint: Hint) -> Event:
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("headers", "cookies", "data"):
            if isinstance(request.get(key), dict):
                request[key] = redact(request[key])
        # Email-link tokens travel in query strings (/verify-email?token=…).
        for key in ("query_string", "url"):
            value = request.get(key)
            if isinstance(value, str):
                request[key] = _SECRET_PARAM.sub(r"\1=[Filtered]", value)
    return event


_SECRET_PARAM = re.compile(
    r"((?:^|[?&])(?:[^=&]*(?:token|secret|password|code|key)[^=&]*))=[^&#]*", re.IGNORECASE
)


def init_sentry(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), LoggingIntegration(event_level=None)],
        before_send=_before_send,
        before_send_transaction=_before_send,
    )
