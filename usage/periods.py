"""Scopes and periods (contract §6.1): whose usage, which UTC month, the period row holding its
totals (incremented in SQL, so concurrent writers never lose a count) and its plan's limits."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from usage.models import UsagePeriod


@dataclass(frozen=True)
class Scope:
    """Whose usage: a user (personal plan) or an organization (org plan)."""

    user_id: int | None = None
    organization_id: int | None = None

    def __post_init__(self) -> None:
        if (self.user_id is None) == (self.organization_id is None):
            raise ValueError("a usage scope is a user or an organization")

    @property
    def kind(self) -> str:
        return "organization" if self.organization_id is not None else "user"

    def filter(self) -> dict[str, Any]:
        """Lookups of this scope's rows (the other scope's column is NULL)."""
        if self.organization_id is not None:
            return {"organization_id": self.organization_id, "user__isnull": True}
        return {"user_id": self.user_id, "organization__isnull": True}

    def fields(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "organization_id": self.organization_id}


# --- Periods --------------------------------------------------------------------------------------


def month_of(moment: datetime) -> tuple[date, date]:
    """The UTC calendar month of a moment: its first and last day."""
    day = moment.astimezone(UTC).date()
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def previous_month_start(moment: datetime) -> date:
    """The first day of the month before the moment's (the oldest timestamp ingestion takes)."""
    first, _ = month_of(moment)
    return (first - timedelta(days=1)).replace(day=1)


@cache
def _plan_limits() -> Callable[..., tuple[str, dict[str, int]]]:
    return import_string(settings.USAGE_PLAN_LIMITS)


def plan_limits(scope: Scope) -> tuple[str, dict[str, int]]:
    """The scope's plan and its limits per total key (billing's entitlement function, through
    the `USAGE_PLAN_LIMITS` hook)."""
    return _plan_limits()(user_id=scope.user_id, organization_id=scope.organization_id)


def period_get(scope: Scope, moment: datetime, *, lock: bool = False) -> UsagePeriod:
    """The scope's period of that month, created with its plan's limits when missing."""
    start, end = month_of(moment)
    rows = UsagePeriod.objects.filter(period_start=start, **scope.filter())
    if lock:
        rows = rows.select_for_update()
    period = rows.first()
    if period is not None:
        return period
    _, limits = plan_limits(scope)
    try:
        with transaction.atomic():
            return UsagePeriod.objects.create(
                period_start=start, period_end=end, limits=limits, **scope.fields()
            )
    except IntegrityError:  # created meanwhile by a concurrent writer
        return rows.get()


def period_add(*, scope: Scope, totals: dict[str, int], moment: datetime) -> None:
    """Add to a period's totals (keys of `TOTAL_KEYS`), in SQL."""
    increments = {key: F(key) + value for key, value in totals.items() if value}
    if not increments:
        return
    period = period_get(scope, moment)
    UsagePeriod.objects.filter(pk=period.pk).update(**increments, updated_at=timezone.now())
