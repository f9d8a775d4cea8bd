"""Usage writes (contract §6): recorded and ingested events, and the monthly periods their
totals go into. Totals are incremented in SQL (`F()`), so concurrent writers never lose a
count; ingestion of one scope is serialised on its period row, so de-duplication by the
client's id is exact also between concurrent batches."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from organizations.models import Organization
from usage import buffer, enforcement
from usage.alerts import limits_check
from usage.models import METRICS, UsageEvent, UsageFoldBatch, UsagePeriod
from usage.periods import Scope, month_of, period_add, period_get, plan_limits

# --- Recording and ingestion ----------------------------------------------------------------------


def _totals_by_month(events: Iterable[UsageEvent]) -> dict[date, tuple[datetime, dict[str, int]]]:
    months: dict[date, tuple[datetime, dict[str, int]]] = {}
    for event in events:
        key = METRICS.get(event.event_type)
        if key is None:
            continue  # stored, not totalled (contract §6.1)
        start, _ = month_of(event.occurred_at)
        totals = months.setdefault(start, (event.occurred_at, defaultdict(int)))[1]
        totals[key] += event.quantity
    return months


def usage_record(
    *,
    scope: Scope,
    event_type: str,
    resource: str,
    quantity: int = 1,
    unit: str = "count",
    metadata: dict[str, str] | None = None,
) -> UsageEvent:
    """`POST /usage/record`: one event now, added to the current period (refused under
    `usage_enforcement=all` while its metric is at or over its limit)."""
    enforcement.refuse_if_over(scope, {event_type})
    now = timezone.now()
    with transaction.atomic():
        event = UsageEvent.objects.create(
            event_type=event_type,
            resource=resource,
            quantity=quantity,
            unit=unit,
            metadata=metadata or {},
            occurred_at=now,
            **scope.fields(),
        )
        for moment, totals in _totals_by_month([event]).values():
            period_add(scope=scope, totals=dict(totals), moment=moment)
            limits_check(scope=scope, moment=moment)
    return event


@dataclass(frozen=True)
class Ingested:
    accepted: int
    duplicates: int


def usage_events_ingest(*, scope: Scope, events: list[dict[str, Any]]) -> Ingested:
    """`POST /usage/events`: a validated batch. An event whose client `id` the scope has
    already sent (in an earlier batch or earlier in this one) is a duplicate and is skipped;
    the rest are stored and added to the periods of their timestamps, in one transaction."""
    enforcement.refuse_if_over(scope, {e["event_type"] for e in events})
    now = timezone.now()
    with transaction.atomic():
        # One batch of a scope at a time: the current period's row is the scope's lock.
        period_get(scope, now, lock=True)
        ids = [e["id"] for e in events if e.get("id")]
        seen = set(
            UsageEvent.objects.filter(client_event_id__in=ids, **scope.filter()).values_list(
                "client_event_id", flat=True
            )
        )
        rows: list[UsageEvent] = []
        duplicates = 0
        for item in events:
            client_id = item.get("id") or None
            if client_id is not None:
                if client_id in seen:
                    duplicates += 1
                    continue
                seen.add(client_id)
            rows.append(
                UsageEvent(
                    event_type=item["event_type"],
                    resource=item["resource"],
                    quantity=item.get("quantity", 1),
                    unit=item.get("unit") or "count",
                    metadata=item.get("metadata") or {},
                    client_event_id=client_id,
                    occurred_at=item.get("timestamp") or now,
                    **scope.fields(),
                )
            )
        UsageEvent.objects.bulk_create(rows, batch_size=500)
        for moment, totals in _totals_by_month(rows).values():
            period_add(scope=scope, totals=dict(totals), moment=moment)
            limits_check(scope=scope, moment=moment)
    return Ingested(accepted=len(rows), duplicates=duplicates)


# --- Folding the API-call buffer --------------------------------------------------------------


def _month_moment(month: str, now: datetime) -> datetime:
    """When a month's folded calls happened: now in the current month, else its last second."""
    year, number = (int(part) for part in month.split("-"))
    first = datetime(year, number, 1, tzinfo=UTC)
    if (first.year, first.month) == (now.year, now.month):
        return now
    last = calendar.monthrange(year, number)[1]
    return datetime(year, number, last, 23, 59, 59, tzinfo=UTC)


def _fold_counts(counts: dict[str, int], now: datetime) -> int:
    """Store one aggregated `api_call` event per scope and month, and add them to the periods.
    Scopes deleted since they were counted are skipped."""
    parsed: list[tuple[str, int, str, int]] = []
    for name, count in counts.items():
        kind, _, rest = name.partition(":")
        raw_id, _, month = rest.partition(":")
        if kind in ("u", "o") and raw_id.isdigit() and count > 0 and len(month) == 7:
            parsed.append((kind, int(raw_id), month, count))
    users = set(
        User.objects.filter(pk__in=[i for k, i, _, _ in parsed if k == "u"]).values_list(
            "pk", flat=True
        )
    )
    orgs = set(
        Organization.objects.filter(pk__in=[i for k, i, _, _ in parsed if k == "o"]).values_list(
            "pk", flat=True
        )
    )
    events = []
    for kind, scope_id, month, count in parsed:
        if scope_id not in (users if kind == "u" else orgs):
            continue
        scope = Scope(user_id=scope_id) if kind == "u" else Scope(organization_id=scope_id)
        moment = _month_moment(month, now)
        events.append(
            UsageEvent(
                event_type="api_call",
                resource="api",
                quantity=count,
                occurred_at=moment,
                **scope.fields(),
            )
        )
        period_add(scope=scope, totals={"api_calls": count}, moment=moment)
        limits_check(scope=scope, moment=moment)
    UsageEvent.objects.bulk_create(events, batch_size=500)
    return sum(e.quantity for e in events)


def usage_fold(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Move the buffered API calls into the periods (the `flush_usage_buffer` job every minute,
    the web process's flusher, its shutdown hook, `manage.py usage_fold`). Each batch is folded
    once: its name is recorded in the same transaction. Returns the calls folded."""
    store = buffer.buffer()
    folded = 0
    now = timezone.now()
    batches = store.take()
    if not batches:
        return 0  # nothing counted: no database work (a process stopping with nothing to fold)
    for done, (name, counts) in enumerate(batches, start=1):
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        UsageFoldBatch.objects.create(name=name)
                except IntegrityError:
                    pass  # folded before; only its removal from the buffer was missing
                else:
                    folded += _fold_counts(counts, now)
        except Exception:
            store.restore(counts)
            raise
        store.done(name)
        if progress:
            progress(done, len(batches))
    UsageFoldBatch.objects.filter(folded_at__lt=now - timedelta(days=2)).delete()
    return folded


def unflushed_api_calls(scope: Scope, moment: datetime) -> int:
    """The scope's API calls of that month still in the buffer (`GET /usage` adds them)."""
    kind, scope_id = ("o", scope.organization_id) if scope.organization_id else ("u", scope.user_id)
    name = buffer.field(kind, int(scope_id or 0), moment)
    return buffer.buffer().peek([name]).get(name, 0)


def limits_sweep() -> int:
    """The `sweep_usage_limits` job: check every scope that has a period this month, with the
    limits of its plan now (an upgrade or downgrade since the period began counts). Returns
    the alerts created."""
    now = timezone.now()
    start, _ = month_of(now)
    created = 0
    for period in UsagePeriod.objects.filter(period_start=start).iterator():
        scope = Scope(user_id=period.user_id, organization_id=period.organization_id)
        _, limits = plan_limits(scope)
        if limits != period.limits:
            UsagePeriod.objects.filter(pk=period.pk).update(limits=limits)
        created += len(limits_check(scope=scope, moment=now))
    return created
