"""Automatic metering (contract §6.3): after the response, an authenticated API request adds
one `api_call` to its user and, when it acted in an organization (`/organizations/{slug}/…`),
to the organization; an API key's request counts for its organization only. No database
write: the counts go to the buffer (usage/buffer.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config import routes
from config.errors import error_response
from organizations.authentication import api_key_lookup, presented_api_key
from security.principal import request_principal
from usage import buffer, enforcement
from usage.services import usage_fold

logger = logging.getLogger("keel.usage")


def metered_fields(request: HttpRequest) -> list[str]:
    """The buffer fields this request counts in (none when it is not metered)."""
    if not routes.METERED.matches(request.path_info) or getattr(
        request, "keel_usage_refused", False
    ):
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


class UsageEnforcementMiddleware:
    """Before the view (contract §0.13): 429 `USAGE_LIMIT_EXCEEDED` for a scope whose API calls
    are at or over its limit, when `usage_enforcement` is on. No query: the scope's state is in
    the cache (usage/enforcement.py); staff are never refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is None:
            return self.get_response(request)
        request.keel_usage_refused = True  # type: ignore[attr-defined]  # not served: not metered
        return refusal

    @staticmethod
    def _refusal(request: HttpRequest) -> HttpResponse | None:
        if not routes.ENFORCED.matches(request.path_info) or enforcement.mode() == enforcement.OFF:
            return None
        principal = request_principal(request)
        if principal is None or principal.is_staff:
            return None
        kind, _, raw_id = principal.key.partition(":")
        user_id = int(raw_id) if kind == "user" and raw_id.isdigit() else None
        organization_id = None
        if kind == "apikey":
            raw = presented_api_key(request)
            key = api_key_lookup(raw) if raw else None
            organization_id = key.organization_id if key else None
        over = enforcement.over_limits(
            user_id=user_id,
            organization_id=organization_id,
            org_slug=routes.org_slug(request.path_info) if kind == "user" else None,
        )
        if "api_calls" not in over:
            return None
        seconds = enforcement.seconds_to_next_period()
        return error_response(
            429,
            enforcement.UsageLimitExceeded.code,
            enforcement.UsageLimitExceeded.default_message,
            retry_after=seconds,
        )
