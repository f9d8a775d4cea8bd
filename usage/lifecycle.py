"""Usage in an account's lifecycle (accounts/lifecycle.py): the user's periods and events in
the GDPR export, their removal by the purge (with the user's rows), and the event count of
the staff stats."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from accounts.auth.serializers import iso
from accounts.lifecycle import AccountParticipant, PurgeStep
from accounts.models import User
from usage.models import UsageEvent, UsagePeriod
from usage.periods import month_of


class UsageLifecycle(AccountParticipant):
    export_readme = (
        (
            "usage",
            "your personal usage per month: totals, limits, and the events recorded "
            "(API calls as one row per scope and fold)",
        ),
    )

    def export(self, user: User) -> dict[str, Any]:
        periods = UsagePeriod.objects.filter(user=user, organization__isnull=True).order_by(
            "period_start"
        )
        events: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        rows = UsageEvent.objects.filter(user=user, organization__isnull=True).order_by(
            "occurred_at", "pk"
        )
        for event in rows.iterator():
            events[month_of(event.occurred_at)[0]].append(
                {
                    "id": event.client_event_id,
                    "event_type": event.event_type,
                    "resource": event.resource,
                    "quantity": event.quantity,
                    "unit": event.unit,
                    "metadata": event.metadata,
                    "timestamp": iso(event.occurred_at),
                }
            )
        return {
            "usage": [
                {
                    "period_start": p.period_start.isoformat(),
                    "period_end": p.period_end.isoformat(),
                    "totals": p.totals(),
                    "limits": p.limits,
                    "limits_exceeded": p.limits_exceeded,
                    "events": events.get(p.period_start, []),
                }
                for p in periods
            ]
        }

    def purge_plan(self, user: User) -> list[str]:
        count = UsageEvent.objects.filter(user=user).count()
        if not count and not UsagePeriod.objects.filter(user=user).exists():
            return []
        return [f"usage: {count} event(s) and the user's periods and alerts deleted"]

    def purge(self, user: User) -> PurgeStep:
        # Deleted with the user row (foreign keys cascade); the audit entry keeps the count.
        count = UsageEvent.objects.filter(user=user).count()
        return PurgeStep(metadata={"usage_events": count}) if count else PurgeStep()

    def staff_stats(self) -> dict[str, int]:
        return {"total_usage_events": UsageEvent.objects.count()}
