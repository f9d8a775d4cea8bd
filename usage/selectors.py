"""Usage reads: a scope's summary of a month and its history (contract §6.1, §6.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from accounts.auth.serializers import iso
from usage.alerts import visible_alerts
from usage.models import TOTAL_KEYS, UsageAlert, UsagePeriod
from usage.periods import Scope, month_of, plan_limits
from usage.services import unflushed_api_calls


def _percentages(totals: dict[str, int], limits: dict[str, int]) -> dict[str, int]:
    return {
        key: (totals[key] * 100 // limits[key]) if limits.get(key, 0) > 0 else 0
        for key in TOTAL_KEYS
    }


def _summary(
    scope: Scope, start: date, end: date, period: UsagePeriod | None, plan: str,
    limits: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    totals = period.totals() if period is not None else dict.fromkeys(TOTAL_KEYS, 0)
    limits = {key: int(limits.get(key, 0)) for key in TOTAL_KEYS}
    return {
        "scope": scope.kind,
        "plan": plan,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "totals": totals,
        "limits": limits,
        "percentages": _percentages(totals, limits),
        "limits_exceeded": bool(period.limits_exceeded) if period is not None else False,
    }


def usage_summary(*, scope: Scope, moment: datetime | None = None) -> dict[str, Any]:
    """UsageSummary of the month of `moment` (now): the plan's current limits, and the API calls
    still in the buffer added (contract §6.2)."""
    moment = moment or timezone.now()
    start, end = month_of(moment)
    period = UsagePeriod.objects.filter(period_start=start, **scope.filter()).first()
    plan, limits = plan_limits(scope)
    summary = _summary(scope, start, end, period, plan, limits)
    pending = unflushed_api_calls(scope, moment)
    if pending:
        summary["totals"]["api_calls"] += pending
        summary["percentages"] = _percentages(summary["totals"], summary["limits"])
    return summary


def usage_history(*, scope: Scope, months: int) -> list[dict[str, Any]]:
    """The last `months` months, newest first; a month without usage is all zeros. This month
    shows the plan's limits now; past months the limits they had (stored on their period)."""
    now = timezone.now()
    starts: list[tuple[date, date]] = []
    moment = now
    for _ in range(months):
        start, end = month_of(moment)
        starts.append((start, end))
        moment = datetime.combine(start, time.min, tzinfo=UTC) - timedelta(seconds=1)
    periods = {
        p.period_start: p
        for p in UsagePeriod.objects.filter(
            period_start__gte=starts[-1][0], period_start__lte=starts[0][0], **scope.filter()
        )
    }
    plan, limits = plan_limits(scope)
    history = []
    for index, (start, end) in enumerate(starts):
        period = periods.get(start)
        # This month follows the plan now; past months keep the limits they had.
        past = index > 0 and period is not None and period.limits
        shown = period.limits if past and period is not None else limits
        history.append(_summary(scope, start, end, period, plan, shown))
    return history


def alert_data(alert: UsageAlert) -> dict[str, Any]:
    """The contract's UsageAlert (§6.1)."""
    return {
        "id": alert.pk,
        "alert_type": alert.alert_type,
        "usage_type": alert.usage_type,
        "current_usage": alert.current_usage,
        "usage_limit": alert.usage_limit,
        "percentage_used": alert.percentage_used,
        "acknowledged": alert.acknowledged_at is not None,
        "acknowledged_at": iso(alert.acknowledged_at),
        "period_start": alert.period_start.isoformat(),
        "period_end": alert.period_end.isoformat(),
        "organization_id": alert.organization_id,
        "org_slug": alert.organization.slug if alert.organization is not None else None,
        "created_at": iso(alert.created_at),
    }


def alert_list(*, user_id: int) -> list[dict[str, Any]]:
    """`GET /usage/alerts`: unacknowledged alerts of the user and of the orgs they administer."""
    rows = (
        visible_alerts(user_id)
        .filter(acknowledged_at__isnull=True)
        .select_related("organization")
        .order_by("-created_at", "-pk")
    )
    return [alert_data(a) for a in rows]
