"""Sliding-window rate limits in the cache (contract §0.9).

Each tier counts requests per key in fixed 60-second buckets and estimates the sliding
window as `previous × (1 − elapsed/60) + current`. Counting is one atomic INCR per tier
(one pipelined Redis round trip in production, so limits hold across processes; see
security/counters.py); a refused request is not counted.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings

from config import routes
from security.counters import counters

WINDOW = 60


@dataclass(frozen=True)
class Tier:
    name: str
    group: routes.RouteGroup | None  # None: every request not exempt (config.routes)
    by_principal: bool


@dataclass
class Decision:
    tier: str
    limit: int
    remaining: int
    reset: int  # Unix seconds
    allowed: bool
    retry_after: int = 0
    key: str = ""  # the bucket counted (for `undo`)


@functools.lru_cache(maxsize=4096)
def ip_identity(ip: str) -> str:
    """Rate-limit identity of an address: IPv6 clients count per /64 (one customer's
    allocation), so rotating addresses inside it does not escape the limits."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def undo(decision: Decision) -> None:
    """Uncount an allowed request that a later tier refused (refusals never count)."""
    if decision.allowed and decision.key:
        counters().decr(decision.key)


IP_TIER = Tier("ip", None, by_principal=False)
AUTH_TIER = Tier("auth", routes.AUTH_TIER, by_principal=False)
LOGIN_TIER = Tier("login", routes.LOGIN_TIER, by_principal=False)
REGISTER_TIER = Tier("register", routes.REGISTER_TIER, by_principal=False)
API_TIER = Tier("api", routes.API_TIER, by_principal=True)
USER_TIER = Tier("user", routes.USER_TIER, by_principal=True)
ROUTE_TIERS = (AUTH_TIER, LOGIN_TIER, REGISTER_TIER, API_TIER, USER_TIER)


def enabled() -> bool:
    return settings.RATE_LIMIT_ENABLED


def limit_for(tier: Tier) -> int:
    """System setting > environment > default (contract §0.9)."""
    from security.system_settings import get_setting

    if tier is IP_TIER:
        return settings.RATE_LIMIT_IP_PER_MINUTE
    if tier is AUTH_TIER:
        return settings.RATE_LIMIT_AUTH_PER_MINUTE
    if tier is LOGIN_TIER:
        return int(get_setting("rate_limit_login_per_minute"))
    if tier is REGISTER_TIER:
        return int(get_setting("rate_limit_register_per_minute"))
    if tier is API_TIER:
        return int(get_setting("rate_limit_api_per_minute"))
    return settings.RATE_LIMIT_USER_PER_MINUTE


def hit(tier: Tier, identity: str, limit: int, now: float | None = None) -> Decision:
    """Count one request for (tier, identity) unless it is over the limit."""
    now = time.time() if now is None else now
    bucket = int(now // WINDOW)
    elapsed = now - bucket * WINDOW
    key = f"rl:{tier.name}:{identity}:{bucket}"
    store = counters()
    current, previous = store.incr_with_previous(
        key, f"rl:{tier.name}:{identity}:{bucket - 1}", WINDOW * 2 + 5
    )
    estimate = previous * (1 - elapsed / WINDOW) + current
    reset = (bucket + 1) * WINDOW
    if estimate <= limit:
        return Decision(tier.name, limit, max(0, limit - math.ceil(estimate)), reset, True, key=key)
    store.decr(key)  # a refused request does not count
    retry_after = _retry_after(previous, current - 1, limit, elapsed)
    return Decision(tier.name, limit, 0, int(now) + retry_after, False, retry_after)


def _retry_after(previous: int, current: int, limit: int, elapsed: float) -> int:
    """Seconds until one more request fits in the sliding window."""
    room = limit - 1 - current
    if room >= 0 and previous > 0:
        # previous × (1 − t/60) ≤ room  →  t ≥ 60 × (1 − room/previous)
        wait = WINDOW * (1 - room / previous) - elapsed
    else:
        # wait for the next bucket, then for `current` (then previous) to decay
        wait = (WINDOW - elapsed) + WINDOW * (1 - (limit - 1) / max(current, 1))
    return max(1, math.ceil(wait))


def tightest(decisions: list[Decision]) -> Decision | None:
    if not decisions:
        return None
    return min(decisions, key=lambda d: (d.allowed, d.remaining, -d.retry_after))
