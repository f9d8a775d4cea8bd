"""Automatic metering (contract §6.3): after the response, an authenticated API request adds
one `api_call` to its user and, when it acted in an organization (`/organizations/{slug}/…`),
to the organization; an API key's request counts for its organization only. No database
write: the counts go to the buffer (usage/buffer.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config import routes
from organizations.authentication import api_key_lookup, presented_api_key
from security.principal import request_principal
from usage import buffer
from usage.services import usage_fold

logger = logging.getLogger("keel.usage")


def metered_fields(request: HttpRequest) -> list[str]:
    """The buffer fields this request counts in (none when it is not metered)."""
    if not routes.METERED.matches(request.path_info):
        return []
    principal = request_principal(request)
    if principal is None:
        return []
    kind, _, raw_id = principal.key.partition(":")
    organization_id = getattr(request, "keel_organization_id", None)
    if kind == "apikey":
        if organization_id is None:
            raw = presented_api_key(request)
            key = api_key_lookup(raw) if raw else None
            organization_id = key.organization_id if key else None
        return [buffer.field("o", organization_id)] if organization_id else []
    if kind != "user" or not raw_id.isdigit():
        return []
    fields = [buffer.field("u", int(raw_id))]
    if organization_id:
        fields.append(buffer.field("o", organization_id))
    return fields


class UsageMeteringMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        try:
            fields = metered_fields(request)
            if fields:
                buffer.buffer().add(fields)
                buffer.flusher_start(usage_fold)
        except Exception:  # metering never fails a request that was served
            logger.exception("usage metering failed")
        return response
