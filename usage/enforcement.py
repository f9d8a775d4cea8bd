"""Enforcement (contract §6.5), switched by the `usage_enforcement` system setting:

- `off` (default): nothing is refused;
- `api_calls`: while a scope's `api_calls` are at or over its limit, its metered requests get
  429 `USAGE_LIMIT_EXCEEDED` with `Retry-After` = seconds to the next period; `/auth/*`,
  `/csrf-token`, billing, usage, health and the webhook stay open; staff are never refused;
- `all`: besides, a record or batch adding to any metric at or over its limit is refused whole.

The request path asks the cache, never the database: when a check finds a metric at its limit
it marks the scope in the cache until the period ends; a plan change that lifts the limit
(the sweep, a resync) clears the mark.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.core.cache import cache
from django.utils import timezone

from config.errors import DomainError
from security.system_settings import get_setting
from usage.models import METRICS
from usage.periods import Scope

OFF, API_CALLS, ALL = "off", "api_calls", "all"


class UsageLimitExceeded(DomainError):
    status = 429
    code = "USAGE_LIMIT_EXCEEDED"
    default_message = (
        "Usage limit exceeded for this period. Upgrade your plan or wait for the next period."
    )


def mode() -> str:
    return str(get_setting("usage_enforcement") or OFF)


def _key(kind: str, ident: object) -> str:
    return f"usage:over:{kind}:{ident}"


def seconds_to_next_period(now: datetime | None = None) -> int:
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return max(1, int((datetime.combine(first_next, time.min, tzinfo=UTC) - now).total_seconds()))


def mark(scope: Scope, over: set[str], org_slug: str | None = None) -> None:
    """Remember which totals of the scope's current period are at or over their limits (empty:
    none), until the period ends."""
    ttl = seconds_to_next_period()
    keys = [_key("u", scope.user_id)] if scope.user_id else [_key("o", scope.organization_id)]
    if org_slug:
        keys.append(_key("slug", org_slug))
    for key in keys:
        if over:
            cache.set(key, sorted(over), timeout=ttl)
        else:
            cache.delete(key)


def over_limits(*, user_id: int | None = None, org_slug: str | None = None,
                organization_id: int | None = None) -> set[str]:  # fmt: skip
    """The totals at or over their limits for these scopes (from the cache)."""
    keys = []
    if user_id:
        keys.append(_key("u", user_id))
    if organization_id:
        keys.append(_key("o", organization_id))
    if org_slug:
        keys.append(_key("slug", org_slug))
    found = cache.get_many(keys) if keys else {}
    return {total for value in found.values() for total in (value or [])}


def refuse_if_over(scope: Scope, event_types: set[str]) -> None:
    """`all`: a record or batch adding to a metric at or over its limit is refused whole."""
    if mode() != ALL:
        return
    over = over_limits(user_id=scope.user_id, organization_id=scope.organization_id)
    adding = {METRICS[t] for t in event_types if t in METRICS}
    if over & adding:
        seconds = seconds_to_next_period()
        raise UsageLimitExceeded(retry_after=seconds, headers={"Retry-After": str(seconds)})
