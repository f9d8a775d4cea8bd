"""Usage services (usage/services.py) called directly: scopes, UTC months, periods created once
with their plan's limits, exact totals, de-duplication by the client's id per scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from accounts.privacy import services as privacy
from tests.usage.conftest import FREE, PRO
from usage.lifecycle import UsageLifecycle
from usage.models import UsageEvent, UsagePeriod
from usage.periods import Scope, month_of, period_add, period_get, previous_month_start
from usage.services import usage_events_ingest, usage_record

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def user_scope(user) -> Scope:
    return Scope(user_id=user.pk)


def org_scope(org) -> Scope:
    return Scope(organization_id=org.pk)


# --- Scope and months ----------------------------------------------------------------------------


def test_a_scope_is_a_user_or_an_organization_never_both_or_neither():
    assert Scope(user_id=1).kind == "user"
    assert Scope(organization_id=2).kind == "organization"
    with pytest.raises(ValueError):
        Scope()
    with pytest.raises(ValueError):
        Scope(user_id=1, organization_id=2)


@pytest.mark.parametrize(
    ("moment", "first", "last"),
    [
        ("2026-02-28T23:59:59+00:00", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-03-01T00:00:00+00:00", date(2026, 3, 1), date(2026, 3, 31)),
        ("2028-02-29T12:00:00+00:00", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-12-31T23:59:59.999999+00:00", date(2026, 12, 1), date(2026, 12, 31)),
        # Local times are placed by their UTC month.
        ("2026-03-01T00:30:00+01:00", date(2026, 2, 1), date(2026, 2, 28)),
        ("2026-02-28T20:00:00-05:00", date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
def test_month_of_is_the_utc_calendar_month(moment, first, last):
    assert month_of(at(moment)) == (first, last)


def test_the_previous_month_start_crosses_years():
    assert previous_month_start(at("2026-01-01T00:00:00+00:00")) == date(2025, 12, 1)
    assert previous_month_start(at("2026-03-31T23:59:59+00:00")) == date(2026, 2, 1)


# --- Periods -------------------------------------------------------------------------------------


def test_a_period_is_created_once_with_the_plan_limits(alice):
    scope = user_scope(alice)
    first = period_get(scope, at("2026-03-01T00:00:00+00:00"))
    again = period_get(scope, at("2026-03-31T23:59:59+00:00"))
    assert first.pk == again.pk
    assert UsagePeriod.objects.filter(user=alice).count() == 1
    assert (first.period_start, first.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert first.limits == FREE
    assert first.totals() == dict.fromkeys(FREE, 0)
    assert first.limits_exceeded is False
    other = period_get(scope, at("2026-04-01T00:00:00+00:00"))
    assert other.pk != first.pk
    assert UsagePeriod.objects.filter(user=alice).count() == 2


def test_a_period_of_an_org_on_pro_has_pro_limits(acme):
    acme.plan = "pro"
    acme.save(update_fields=["plan"])
    period = period_get(org_scope(acme), at("2026-03-10T00:00:00+00:00"))
    assert period.limits == PRO
    assert (period.organization_id, period.user_id) == (acme.pk, None)


def test_user_and_org_periods_of_one_month_are_separate(alice, acme):
    moment = at("2026-03-10T00:00:00+00:00")
    mine = period_get(user_scope(alice), moment)
    ours = period_get(org_scope(acme), moment)
    assert mine.pk != ours.pk
    assert (mine.user_id, mine.organization_id) == (alice.pk, None)
    assert (ours.user_id, ours.organization_id) == (None, acme.pk)


def test_period_add_adds_in_sql_and_ignores_zeros(alice):
    scope = user_scope(alice)
    moment = at("2026-03-10T00:00:00+00:00")
    period_add(scope=scope, totals={"api_calls": 3, "compute_ms": 0}, moment=moment)
    period_add(scope=scope, totals={"api_calls": 4, "storage_bytes": 10}, moment=moment)
    period_add(scope=scope, totals={"file_uploads": 0}, moment=moment)
    period = UsagePeriod.objects.get(user=alice)
    assert period.totals() == {
        "api_calls": 7,
        "storage_bytes": 10,
        "compute_ms": 0,
        "file_uploads": 0,
    }


# --- Recording -----------------------------------------------------------------------------------


def test_recording_totals_each_metric_exactly(alice, time_machine):
    time_machine.move_to("2026-03-15T08:00:00Z", tick=False)
    scope = user_scope(alice)
    for event_type, quantity in [
        ("api_call", 1),
        ("api_call", 2),
        ("storage", 1_073_741_824),
        ("storage", 1),
        ("compute", 250),
        ("file_upload", 1),
        ("something_else", 1_000),
    ]:
        usage_record(scope=scope, event_type=event_type, resource="r", quantity=quantity)
    period = UsagePeriod.objects.get(user=alice)
    assert period.period_start == date(2026, 3, 1)
    assert period.totals() == {
        "api_calls": 3,
        "storage_bytes": 1_073_741_825,
        "compute_ms": 250,
        "file_uploads": 1,
    }
    assert UsageEvent.objects.filter(user=alice).count() == 7


def test_a_recorded_event_keeps_its_fields_and_the_time_of_recording(acme, time_machine):
    time_machine.move_to("2026-03-15T08:00:00Z", tick=False)
    stored = usage_record(
        scope=org_scope(acme),
        event_type="compute",
        resource="job/1",
        quantity=5,
        unit="ms",
        metadata={"worker": "a"},
    )
    stored.refresh_from_db()
    assert (stored.organization_id, stored.user_id) == (acme.pk, None)
    assert (stored.event_type, stored.resource, stored.quantity, stored.unit) == (
        "compute",
        "job/1",
        5,
        "ms",
    )
    assert stored.metadata == {"worker": "a"}
    assert stored.client_event_id is None
    assert stored.occurred_at == at("2026-03-15T08:00:00+00:00")


# --- Ingestion -----------------------------------------------------------------------------------


def event(**extra):
    return {"event_type": "api_call", "resource": "r", **extra}


def test_ingestion_totals_exactly_and_places_events_in_their_months(alice, time_machine):
    time_machine.move_to("2026-03-01T00:00:30Z", tick=False)
    scope = user_scope(alice)
    result = usage_events_ingest(
        scope=scope,
        events=[
            event(quantity=7, timestamp=at("2026-02-28T23:59:59+00:00")),
            event(quantity=11, timestamp=at("2026-03-01T00:00:00+00:00")),
            event(event_type="storage", quantity=100),
            event(event_type="other", quantity=9),
        ],
    )
    assert (result.accepted, result.duplicates) == (4, 0)
    periods = {
        p.period_start: p.totals()
        for p in UsagePeriod.objects.filter(user=alice, organization=None)
    }
    assert periods[date(2026, 2, 1)] == {
        "api_calls": 7,
        "storage_bytes": 0,
        "compute_ms": 0,
        "file_uploads": 0,
    }
    assert periods[date(2026, 3, 1)] == {
        "api_calls": 11,
        "storage_bytes": 100,
        "compute_ms": 0,
        "file_uploads": 0,
    }
    untimed = UsageEvent.objects.get(event_type="storage")
    assert untimed.occurred_at == at("2026-03-01T00:00:30+00:00")


def test_ingestion_deduplicates_within_and_across_batches(alice):
    scope = user_scope(alice)
    first = usage_events_ingest(
        scope=scope, events=[event(id="a"), event(id="a"), event(id="b"), event(), event()]
    )
    assert (first.accepted, first.duplicates) == (4, 1)
    second = usage_events_ingest(scope=scope, events=[event(id="b"), event(id="c"), event()])
    assert (second.accepted, second.duplicates) == (2, 1)
    assert UsageEvent.objects.filter(user=alice).count() == 6
    assert set(
        UsageEvent.objects.exclude(client_event_id=None).values_list("client_event_id", flat=True)
    ) == {"a", "b", "c"}
    assert UsagePeriod.objects.get(user=alice).api_calls == 6


def test_duplicates_add_nothing_to_the_totals(alice):
    scope = user_scope(alice)
    usage_events_ingest(scope=scope, events=[event(id="a", quantity=5)])
    again = usage_events_ingest(scope=scope, events=[event(id="a", quantity=500)])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert UsagePeriod.objects.get(user=alice).api_calls == 5


def test_ids_are_per_scope(alice, bob, acme, globex):
    batch = [event(id="same")]
    for scope in (user_scope(alice), user_scope(bob), org_scope(acme), org_scope(globex)):
        result = usage_events_ingest(scope=scope, events=batch)
        assert (result.accepted, result.duplicates) == (1, 0)
    assert UsageEvent.objects.filter(client_event_id="same").count() == 4


def test_a_batch_in_org_scope_writes_no_user_rows(alice, acme):
    usage_events_ingest(scope=org_scope(acme), events=[event(quantity=3)])
    assert not UsageEvent.objects.filter(user=alice).exists()
    assert not UsagePeriod.objects.filter(user=alice).exists()
    assert UsagePeriod.objects.get(organization=acme).api_calls == 3


def test_timezone_aware_timestamps_in_other_zones_use_the_utc_month(alice, time_machine):
    time_machine.move_to("2026-03-02T00:00:00Z", tick=False)
    tz = timezone(timedelta(hours=-5))
    # 20:00 on Feb 28 in UTC-5 is 01:00 on Mar 1 in UTC.
    moment = datetime(2026, 2, 28, 20, 0, tzinfo=tz)
    usage_events_ingest(scope=user_scope(alice), events=[event(timestamp=moment)])
    period = UsagePeriod.objects.exclude(api_calls=0).get(user=alice)
    assert period.period_start == date(2026, 3, 1)
    assert UsageEvent.objects.get().occurred_at == moment.astimezone(UTC)


def test_the_gdpr_export_carries_the_users_own_usage_and_the_purge_plan_counts_it(alice, acme):
    usage_record(scope=Scope(user_id=alice.pk), event_type="compute", resource="job", quantity=7)
    usage_record(scope=Scope(organization_id=acme.pk), event_type="compute", resource="org")
    data = privacy.data_export_collect(user=alice)
    (period,) = data["usage"]
    assert period["totals"]["compute_ms"] == 7
    assert [e["resource"] for e in period["events"]] == ["job"]  # not the org's
    assert UsageLifecycle().purge_plan(alice) == [
        "usage: 1 event(s) and the user's periods and alerts deleted"
    ]
