"""The plan catalogue, defined once (contract §4.3, §5.4, §6.1): each plan's seats and usage
limits, and which plan a Stripe price buys.

Organizations read their seat limit from here through the `ORGANIZATION_SEAT_LIMIT` hook, and
usage metering reads `usage_limits`; neither keeps a copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings

from organizations.models import Plan

logger = logging.getLogger("keel.billing")

# Live = the subscription grants its plan; past_due is the grace period (contract §5.4).
LIVE_STATUSES = ("active", "trialing", "past_due")


@dataclass(frozen=True)
class PlanSpec:
    plan: Plan
    label: str
    rank: int
    seat_limit: int  # 0 = unlimited
    usage_limits: dict[str, int] = field(default_factory=dict)


CATALOGUE: dict[str, PlanSpec] = {
    Plan.FREE: PlanSpec(
        Plan.FREE,
        "Free",
        0,
        5,
        {
            "api_calls": 10_000,
            "storage_bytes": 1_073_741_824,
            "compute_ms": 3_600_000,
            "file_uploads": 100,
        },
    ),
    Plan.PRO: PlanSpec(
        Plan.PRO,
        "Pro",
        1,
        25,
        {
            "api_calls": 100_000,
            "storage_bytes": 10_737_418_240,
            "compute_ms": 36_000_000,
            "file_uploads": 1_000,
        },
    ),
    Plan.ENTERPRISE: PlanSpec(
        Plan.ENTERPRISE,
        "Enterprise",
        2,
        0,
        {
            "api_calls": 1_000_000,
            "storage_bytes": 107_374_182_400,
            "compute_ms": 360_000_000,
            "file_uploads": 10_000,
        },
    ),
}


def plan_spec(plan: str) -> PlanSpec:
    return CATALOGUE.get(plan) or CATALOGUE[Plan.FREE]


def seat_limit(plan: str) -> int:
    """Seats of a plan (0 = unlimited): the `ORGANIZATION_SEAT_LIMIT` hook."""
    return plan_spec(plan).seat_limit


def usage_limits(plan: str) -> dict[str, int]:
    return dict(plan_spec(plan).usage_limits)


def plan_for_price(price_id: str | None) -> Plan:
    """Which plan a price buys: enterprise, pro, or (an unlisted price on a live subscription)
    pro with a warning."""
    if price_id and price_id in settings.STRIPE_ENTERPRISE_PRICE_IDS:
        return Plan.ENTERPRISE
    if price_id and price_id in settings.STRIPE_PRO_PRICE_IDS:
        return Plan.PRO
    logger.warning("price not mapped to a plan; treated as pro", extra={"price_id": price_id})
    return Plan.PRO


def trial_days(plan: str) -> int:
    """Free trial days Checkout offers for a plan (0: none)."""
    days: dict[str, int] = {
        Plan.PRO: settings.STRIPE_TRIAL_DAYS_PRO,
        Plan.ENTERPRISE: settings.STRIPE_TRIAL_DAYS_ENTERPRISE,
    }
    return days.get(plan, 0)


def is_per_seat(price_id: str | None) -> bool:
    return bool(price_id) and price_id in settings.STRIPE_PER_SEAT_PRICE_IDS
