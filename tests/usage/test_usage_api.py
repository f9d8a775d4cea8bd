"""Usage routes (contract §6.2; org variants §4.2): the summary, recording one event, batch
ingestion (validated whole, de-duplicated by the client's id per scope forever, periods of the
events' timestamps in UTC), history, and the isolation of user and org scopes."""

from __future__ import annotations

from datetime import datetime

import pytest

from accounts.auth import sessions
from organizations.models import OrgRole
from tests.organizations.conftest import make_key
from tests.usage.conftest import (
    ENTERPRISE,
    FREE,
    PRO,
    ZEROS,
    fields,
    ingest,
    record,
    summary,
)
from usage.models import UsageEvent, UsagePeriod

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/usage"),
    ("post", "/api/v1/usage/record"),
    ("post", "/api/v1/usage/events"),
    ("get", "/api/v1/usage/history"),
    ("get", "/api/v1/organizations/acme/usage"),
    ("post", "/api/v1/organizations/acme/usage/record"),
    ("post", "/api/v1/organizations/acme/usage/events"),
]


def totals(response) -> dict[str, int]:
    assert response.status_code == 200, response.content
    return response.json()["totals"]


def event(**extra):
    return {"event_type": "api_call", "resource": "/widgets", **extra}


# --- Access --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_authentication(api, acme, method, path):
    response = getattr(api, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [route for route in ROUTES if "organizations" in route[1]],
)
def test_an_org_the_caller_is_not_a_member_of_is_404_and_nothing_is_stored(
    as_user, acme, globex, charlie, method, path
):
    body = {"event_type": "api_call", "resource": "r"}
    if path.endswith("/events"):
        body = {"events": [event(id="x")]}
    response = getattr(as_user(charlie), method)(path, body, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
    assert not UsageEvent.objects.exists()


def test_unknown_org_is_404(as_user, alice, acme):
    assert summary(as_user(alice), "nope").status_code == 404


def test_routes_answer_under_the_api_alias_without_trailing_slashes(as_user, alice, acme):
    client = as_user(alice)
    assert client.get("/api/usage").status_code == 200
    assert client.get("/api/organizations/acme/usage").status_code == 200
    assert client.get("/api/v1/usage/").status_code == 404
    assert client.get("/api/v1/usage/record").status_code == 405


# --- Summary -------------------------------------------------------------------------------------


def test_the_summary_of_a_new_user_is_the_current_month_at_zero_on_free(
    as_user, alice, march_first
):
    response = summary(as_user(alice))
    assert response.status_code == 200
    assert response.json() == {
        "scope": "user",
        "plan": "free",
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "totals": ZEROS,
        "limits": FREE,
        "percentages": ZEROS,
        "limits_exceeded": False,
    }


def test_period_end_is_the_last_day_of_a_leap_february(as_user, alice, time_machine):
    time_machine.move_to("2028-02-15T12:00:00Z", tick=False)
    body = summary(as_user(alice)).json()
    assert (body["period_start"], body["period_end"]) == ("2028-02-01", "2028-02-29")


def test_percentages_are_floored_and_limits_are_not_exceeded_below_them(as_user, alice):
    client = as_user(alice)
    for event_type, quantity in [
        ("api_call", 8_999),  # 89.99 %
        ("storage", 536_870_912),  # 50 %
        ("compute", 3_599_999),  # 99.99997 %
        ("file_upload", 99),  # 99 %
    ]:
        response = record(client, event_type=event_type, resource="r", quantity=quantity)
        assert response.status_code == 201, response.content
    body = summary(client).json()
    assert body["totals"] == {
        "api_calls": 8_999,
        "storage_bytes": 536_870_912,
        "compute_ms": 3_599_999,
        "file_uploads": 99,
    }
    assert body["percentages"] == {
        "api_calls": 89,
        "storage_bytes": 50,
        "compute_ms": 99,
        "file_uploads": 99,
    }
    assert body["limits_exceeded"] is False


def test_the_summary_is_a_bare_object(as_user, alice, acme):
    for response in (summary(as_user(alice)), summary(as_user(alice), "acme")):
        body = response.json()
        assert "success" not in body and "data" not in body
        assert set(body) == {
            "scope",
            "plan",
            "period_start",
            "period_end",
            "totals",
            "limits",
            "percentages",
            "limits_exceeded",
        }


def test_an_org_summary_has_org_scope_and_the_org_plan_limits(as_user, bob, acme):
    acme.plan = "pro"
    acme.save(update_fields=["plan"])
    body = summary(as_user(bob), "acme").json()  # a member may read it
    assert (body["scope"], body["plan"], body["limits"]) == ("organization", "pro", PRO)
    assert body["totals"] == ZEROS


def test_org_limits_follow_a_plan_change_within_the_period(as_user, alice, acme):
    client = as_user(alice)
    assert record(client, "acme", event_type="file_upload", resource="f").status_code == 201
    assert summary(client, "acme").json()["limits"] == FREE
    acme.plan = "enterprise"
    acme.save(update_fields=["plan"])
    body = summary(client, "acme").json()
    assert (body["plan"], body["limits"]) == ("enterprise", ENTERPRISE)
    assert body["percentages"]["file_uploads"] == 0  # 1 of 10,000
    assert body["totals"]["file_uploads"] == 1


# --- Recording -----------------------------------------------------------------------------------


def test_record_stores_one_event_with_the_defaults_and_adds_it_to_the_period(as_user, alice):
    client = as_user(alice)
    response = record(client, event_type="compute", resource="job/42")
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "usage recorded"
    assert set(body) == {"message", "event_id"}
    stored = UsageEvent.objects.get(pk=body["event_id"])
    assert (stored.user_id, stored.organization_id) == (alice.pk, None)
    assert (stored.event_type, stored.resource, stored.quantity, stored.unit, stored.metadata) == (
        "compute",
        "job/42",
        1,
        "count",
        {},
    )
    assert totals(summary(client)) == {**ZEROS, "compute_ms": 1}


def test_record_keeps_quantity_unit_and_metadata(as_user, alice):
    client = as_user(alice)
    response = record(
        client,
        event_type="storage",
        resource="files/a.png",
        quantity=2048,
        unit="bytes",
        metadata={"bucket": "avatars", "region": "eu"},
    )
    assert response.status_code == 201
    stored = UsageEvent.objects.get(pk=response.json()["event_id"])
    assert (stored.quantity, stored.unit, stored.metadata) == (
        2048,
        "bytes",
        {"bucket": "avatars", "region": "eu"},
    )
    assert totals(summary(client))["storage_bytes"] == 2048


def test_quantity_zero_is_allowed(as_user, alice):
    response = record(as_user(alice), event_type="api_call", resource="r", quantity=0)
    assert response.status_code == 201
    assert UsageEvent.objects.get().quantity == 0


def test_other_event_types_are_stored_but_not_totalled(as_user, alice):
    client = as_user(alice)
    response = record(client, event_type="email_sent", resource="newsletter", quantity=5)
    assert response.status_code == 201
    assert UsageEvent.objects.filter(event_type="email_sent", quantity=5).count() == 1
    assert totals(summary(client)) == ZEROS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ["event_type", "resource"]),
        ({"resource": "r"}, ["event_type"]),
        ({"event_type": "api_call"}, ["resource"]),
        ({"event_type": "x" * 51, "resource": "r"}, ["event_type"]),
        ({"event_type": "api_call", "resource": "r" * 256}, ["resource"]),
        ({"event_type": "api_call", "resource": "r", "unit": "u" * 21}, ["unit"]),
        ({"event_type": "api_call", "resource": "r", "quantity": -1}, ["quantity"]),
        ({"event_type": "api_call", "resource": "r", "quantity": 1.5}, ["quantity"]),
        ({"event_type": "api_call", "resource": "r", "quantity": "lots"}, ["quantity"]),
        ({"event_type": "api_call", "resource": "r", "metadata": ["a"]}, ["metadata"]),
        ({"event_type": "api_call", "resource": "r", "metadata": "a=b"}, ["metadata"]),
    ],
)
def test_record_validation_names_the_fields_and_stores_nothing(as_user, alice, body, expected):
    response = as_user(alice).post("/api/v1/usage/record", body, format="json")
    assert sorted(set(fields(response))) == sorted(expected)
    assert response.json()["message"].startswith(f"{fields(response)[0]}: ")
    assert not UsageEvent.objects.exists()


def test_record_refuses_nested_metadata_values(as_user, alice):
    response = record(
        as_user(alice), event_type="api_call", resource="r", metadata={"k": {"nested": "v"}}
    )
    assert fields(response)[0] in ("metadata", "metadata.k")
    assert not UsageEvent.objects.exists()


def test_record_at_the_maximum_lengths_is_accepted(as_user, alice):
    response = record(
        as_user(alice), event_type="e" * 50, resource="r" * 255, unit="u" * 20, quantity=7
    )
    assert response.status_code == 201
    stored = UsageEvent.objects.get()
    assert (len(stored.event_type), len(stored.resource), len(stored.unit)) == (50, 255, 20)


# --- Ingestion -----------------------------------------------------------------------------------


def test_a_batch_is_accepted_with_202_and_totalled(as_user, alice):
    client = as_user(alice)
    response = ingest(
        client,
        [
            event(quantity=3),
            {"event_type": "storage", "resource": "f", "quantity": 1000, "unit": "bytes"},
            {"event_type": "compute", "resource": "job", "quantity": 250, "metadata": {"a": "b"}},
            {"event_type": "file_upload", "resource": "f"},
            {"event_type": "custom", "resource": "x", "quantity": 9},
        ],
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 5, "duplicates": 0}
    assert totals(summary(client)) == {
        "api_calls": 3,
        "storage_bytes": 1000,
        "compute_ms": 250,
        "file_uploads": 1,
    }
    assert UsageEvent.objects.filter(user=alice, organization=None).count() == 5
    assert UsageEvent.objects.get(event_type="compute").metadata == {"a": "b"}


def test_a_batch_of_1000_is_accepted_and_1001_refused(as_user, alice):
    client = as_user(alice)
    assert fields(ingest(client, [event()] * 1001)) == ["events"]
    assert not UsageEvent.objects.exists()
    response = ingest(client, [event()] * 1000)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1000, "duplicates": 0}
    assert totals(summary(client))["api_calls"] == 1000


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": None}, {"events": "x"}])
def test_a_missing_or_empty_batch_is_a_validation_error(as_user, alice, body):
    response = as_user(alice).post("/api/v1/usage/events", body, format="json")
    assert fields(response) == ["events"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"resource": "r"}, "event_type"),
        ({"event_type": "api_call"}, "resource"),
        (event(event_type="x" * 51), "event_type"),
        (event(resource="r" * 256), "resource"),
        (event(unit="u" * 21), "unit"),
        (event(quantity=-5), "quantity"),
        (event(quantity=2.5), "quantity"),
        (event(metadata=["a"]), "metadata"),
        (event(id="i" * 129), "id"),
        (event(timestamp="yesterday"), "timestamp"),
    ],
)
def test_one_bad_event_refuses_the_whole_batch_with_its_index(as_user, alice, bad, field):
    client = as_user(alice)
    batch = [event(id="a"), event(id="b"), event(id="c"), bad, event(id="e")]
    response = ingest(client, batch)
    assert fields(response) == [f"events[3].{field}"]
    assert response.json()["message"].startswith(f"events[3].{field}: ")
    assert not UsageEvent.objects.exists()
    assert totals(summary(client)) == ZEROS
    # Nothing of the refused batch counts as seen: its ids are accepted afterwards.
    response = ingest(client, [event(id="a"), event(id="b")])
    assert response.json() == {"accepted": 2, "duplicates": 0}


def test_every_bad_event_of_a_batch_is_reported(as_user, alice):
    batch = [event(), event(quantity=-1), event(), {"resource": "r"}]
    response = ingest(as_user(alice), batch)
    assert sorted(fields(response)) == ["events[1].quantity", "events[3].event_type"]
    assert not UsageEvent.objects.exists()


def test_an_event_that_is_not_an_object_is_reported_by_index(as_user, alice):
    response = ingest(as_user(alice), [event(), "api_call"])
    assert fields(response)[0].startswith("events[1]")
    assert not UsageEvent.objects.exists()


def test_an_id_of_128_characters_is_accepted(as_user, alice):
    response = ingest(as_user(alice), [event(id="i" * 128)])
    assert response.status_code == 202
    assert UsageEvent.objects.get().client_event_id == "i" * 128


# --- De-duplication ------------------------------------------------------------------------------


def test_ids_deduplicate_within_a_batch(as_user, alice):
    client = as_user(alice)
    batch = [event(id="a", quantity=2), event(id="a", quantity=2), event(id="b"), event(id="a")]
    response = ingest(client, batch)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 2}
    assert totals(summary(client))["api_calls"] == 3
    assert UsageEvent.objects.count() == 2


def test_ids_deduplicate_across_batches_forever(as_user, alice, time_machine):
    time_machine.move_to("2026-02-10T12:00:00Z", tick=False)
    client = as_user(alice)
    assert ingest(client, [event(id="a"), event(id="b")]).json() == {
        "accepted": 2,
        "duplicates": 0,
    }
    assert ingest(client, [event(id="b"), event(id="c")]).json() == {
        "accepted": 1,
        "duplicates": 1,
    }
    time_machine.move_to("2026-05-20T12:00:00Z", tick=False)  # months later, a new period
    response = ingest(client, [event(id="a"), event(id="c"), event(id="d")])
    assert response.json() == {"accepted": 1, "duplicates": 2}
    assert totals(summary(client))["api_calls"] == 1
    assert UsageEvent.objects.count() == 4


def test_a_batch_of_only_duplicates_is_still_202(as_user, alice):
    client = as_user(alice)
    ingest(client, [event(id="a")])
    response = ingest(client, [event(id="a"), event(id="a")])
    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 2}
    assert totals(summary(client))["api_calls"] == 1


def test_events_without_an_id_are_never_duplicates(as_user, alice):
    client = as_user(alice)
    assert ingest(client, [event(), event()]).json() == {"accepted": 2, "duplicates": 0}
    assert ingest(client, [event()]).json() == {"accepted": 1, "duplicates": 0}
    assert totals(summary(client))["api_calls"] == 3


def test_ids_deduplicate_per_scope(as_user, alice, bob, acme, globex, charlie):
    batch = [event(id="shared")]
    assert ingest(as_user(alice), batch).json() == {"accepted": 1, "duplicates": 0}
    assert ingest(as_user(bob), batch).json() == {"accepted": 1, "duplicates": 0}
    assert ingest(as_user(alice), batch, "acme").json() == {"accepted": 1, "duplicates": 0}
    assert ingest(as_user(bob), batch, "acme").json() == {"accepted": 0, "duplicates": 1}
    assert ingest(as_user(charlie), batch, "globex").json() == {"accepted": 1, "duplicates": 0}
    assert UsageEvent.objects.filter(client_event_id="shared").count() == 4


# --- Timestamps and month boundaries (UTC) -------------------------------------------------------


def test_the_last_second_of_a_month_and_the_first_of_the_next_go_to_their_own_periods(
    as_user, alice, march_first
):
    client = as_user(alice)
    response = ingest(
        client,
        [
            event(id="feb", quantity=7, timestamp="2026-02-28T23:59:59Z"),
            event(id="mar", quantity=11, timestamp="2026-03-01T00:00:00Z"),
        ],
    )
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0}
    current = summary(client).json()
    assert (current["period_start"], current["totals"]["api_calls"]) == ("2026-03-01", 11)
    history = client.get("/api/v1/usage/history?months=2").json()["history"]
    assert [(h["period_start"], h["period_end"], h["totals"]["api_calls"]) for h in history] == [
        ("2026-03-01", "2026-03-31", 11),
        ("2026-02-01", "2026-02-28", 7),
    ]
    periods = UsagePeriod.objects.filter(user=alice).order_by("period_start")
    assert [(str(p.period_start), p.api_calls) for p in periods] == [
        ("2026-02-01", 7),
        ("2026-03-01", 11),
    ]


def test_a_timestamp_with_an_offset_is_placed_by_its_utc_month(as_user, alice, march_first):
    client = as_user(alice)
    # 00:30 on March 1st in UTC+01:00 is still February 28th in UTC.
    response = ingest(client, [event(quantity=4, timestamp="2026-03-01T00:30:00+01:00")])
    assert response.status_code == 202, response.content
    assert totals(summary(client))["api_calls"] == 0
    assert UsagePeriod.objects.get(user=alice, period_start="2026-02-01").api_calls == 4
    stored = UsageEvent.objects.get()
    assert stored.occurred_at == datetime.fromisoformat("2026-02-28T23:30:00+00:00")


def test_an_event_without_a_timestamp_is_now(as_user, alice, march_first):
    client = as_user(alice)
    ingest(client, [event()])
    assert UsageEvent.objects.get().occurred_at == datetime.fromisoformat(
        "2026-03-01T00:00:30+00:00"
    )
    assert totals(summary(client))["api_calls"] == 1


def test_timestamps_from_the_previous_month_start_to_five_minutes_ahead_are_accepted(
    as_user, alice, march_first
):
    response = ingest(
        as_user(alice),
        [
            event(timestamp="2026-02-01T00:00:00Z"),  # the previous period's first second
            event(timestamp="2026-03-01T00:05:30Z"),  # now + 5 min
        ],
    )
    assert response.status_code == 202, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0}


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-31T23:59:59Z",  # before the previous period
        "2026-03-01T00:05:31Z",  # more than 5 min ahead
        "2025-03-01T00:00:00Z",
    ],
)
def test_timestamps_out_of_range_refuse_the_batch(as_user, alice, march_first, timestamp):
    client = as_user(alice)
    response = ingest(client, [event(), event(), event(timestamp=timestamp)])
    assert fields(response) == ["events[2].timestamp"]
    assert not UsageEvent.objects.exists()
    assert not UsagePeriod.objects.filter(api_calls__gt=0).exists()


def test_an_event_a_little_ahead_goes_to_the_next_month(as_user, alice, time_machine):
    time_machine.move_to("2026-03-31T23:58:00Z", tick=False)
    client = as_user(alice)
    response = ingest(client, [event(timestamp="2026-04-01T00:02:00Z", quantity=5)])
    assert response.status_code == 202, response.content
    assert totals(summary(client))["api_calls"] == 0
    assert UsagePeriod.objects.get(user=alice, period_start="2026-04-01").api_calls == 5


# --- History -------------------------------------------------------------------------------------


def test_history_defaults_to_six_months_newest_first_with_empty_months_as_zeros(
    as_user, alice, march_first
):
    client = as_user(alice)
    record(client, event_type="compute", resource="j", quantity=40)
    ingest(client, [event(timestamp="2026-02-15T10:00:00Z", quantity=3)])
    response = client.get("/api/v1/usage/history")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6 == len(body["history"])
    assert [(h["period_start"], h["period_end"]) for h in body["history"]] == [
        ("2026-03-01", "2026-03-31"),
        ("2026-02-01", "2026-02-28"),
        ("2026-01-01", "2026-01-31"),
        ("2025-12-01", "2025-12-31"),
        ("2025-11-01", "2025-11-30"),
        ("2025-10-01", "2025-10-31"),
    ]
    assert body["history"][0]["totals"] == {**ZEROS, "compute_ms": 40}
    assert body["history"][1]["totals"] == {**ZEROS, "api_calls": 3}
    for empty in body["history"][2:]:
        assert empty == {
            "scope": "user",
            "plan": "free",
            "period_start": empty["period_start"],
            "period_end": empty["period_end"],
            "totals": ZEROS,
            "limits": FREE,
            "percentages": ZEROS,
            "limits_exceeded": False,
        }
    assert body["history"][0] == summary(client).json()


@pytest.mark.parametrize(("months", "count"), [("1", 1), ("12", 12), ("24", 24)])
def test_history_takes_one_to_24_months(as_user, alice, march_first, months, count):
    body = as_user(alice).get(f"/api/v1/usage/history?months={months}").json()
    assert body["count"] == count == len(body["history"])
    assert (
        body["history"][-1]["period_start"]
        == {
            "1": "2026-03-01",
            "12": "2025-04-01",
            "24": "2024-04-01",
        }[months]
    )


@pytest.mark.parametrize("months", ["0", "25", "-1", "abc", "1.5"])
def test_history_months_out_of_range_is_a_validation_error(as_user, alice, months):
    response = as_user(alice).get(f"/api/v1/usage/history?months={months}")
    assert fields(response) == ["months"]


def test_history_is_the_callers_own(as_user, alice, bob):
    record(as_user(bob), event_type="api_call", resource="r", quantity=9)
    body = as_user(alice).get("/api/v1/usage/history?months=1").json()
    assert body["history"][0]["totals"] == ZEROS


# --- Org scope and isolation ---------------------------------------------------------------------


def test_user_and_org_usage_never_mix(as_user, alice, bob, acme):
    alice_client = as_user(alice)
    assert record(alice_client, event_type="api_call", resource="r", quantity=5).status_code == 201
    assert ingest(alice_client, [event(quantity=2)]).status_code == 202
    assert (
        record(alice_client, "acme", event_type="compute", resource="r", quantity=30).status_code
        == 201
    )
    assert ingest(alice_client, [event(quantity=100)], "acme").status_code == 202

    assert totals(summary(alice_client)) == {**ZEROS, "api_calls": 7}
    org = summary(alice_client, "acme").json()
    assert org["scope"] == "organization"
    assert org["totals"] == {**ZEROS, "api_calls": 100, "compute_ms": 30}
    # Bob, a member, sees the org's usage, and none of it (nor Alice's) as his own.
    bob_client = as_user(bob)
    assert totals(summary(bob_client, "acme")) == {**ZEROS, "api_calls": 100, "compute_ms": 30}
    assert totals(summary(bob_client)) == ZEROS

    org_events = UsageEvent.objects.filter(organization=acme)
    assert org_events.count() == 2
    assert set(org_events.values_list("user_id", flat=True)) == {None}
    assert UsageEvent.objects.filter(user=alice, organization=None).count() == 2


def test_a_member_records_in_org_scope(as_user, bob, acme):
    response = record(as_user(bob), "acme", event_type="file_upload", resource="f")
    assert response.status_code == 201
    assert response.json()["message"] == "usage recorded"
    stored = UsageEvent.objects.get(pk=response.json()["event_id"])
    assert (stored.organization_id, stored.user_id) == (acme.pk, None)
    response = ingest(as_user(bob), [event(id="1"), event(id="1")], "acme")
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 1}


def test_another_orgs_usage_is_404(as_user, alice, acme, globex, charlie):
    record(as_user(charlie), "globex", event_type="api_call", resource="r", quantity=3)
    client = as_user(alice)
    assert summary(client, "globex").status_code == 404
    assert record(client, "globex", event_type="api_call", resource="r").status_code == 404
    assert ingest(client, [event()], "globex").status_code == 404
    assert totals(summary(as_user(charlie), "globex"))["api_calls"] == 3


def test_the_org_summary_of_globex_is_untouched_by_acme(as_user, alice, charlie, acme, globex):
    ingest(as_user(alice), [event(quantity=50)], "acme")
    assert totals(summary(as_user(charlie), "globex")) == ZEROS


def test_org_validation_errors_use_the_same_field_paths(as_user, bob, acme):
    response = ingest(as_user(bob), [event(), event(unit="u" * 21)], "acme")
    assert fields(response) == ["events[1].unit"]
    response = record(as_user(bob), "acme", resource="r")
    assert fields(response) == ["event_type"]
    assert not UsageEvent.objects.exists()


# --- Org API keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [OrgRole.MEMBER, OrgRole.ADMIN])
def test_an_org_key_meters_in_org_scope(api, acme, role):
    _, raw = make_key(acme, role)
    response = api.post(
        "/api/v1/organizations/acme/usage/record",
        {"event_type": "storage", "resource": "f", "quantity": 10},
        format="json",
        HTTP_X_API_KEY=raw,
    )
    assert response.status_code == 201, response.content
    stored = UsageEvent.objects.get(pk=response.json()["event_id"])
    assert (stored.organization_id, stored.user_id) == (acme.pk, None)
    response = ingest(
        api, [event(id="k"), event(id="k")], "acme", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 1}
    body = summary(api, "acme", HTTP_X_API_KEY=raw).json()
    assert body["scope"] == "organization"
    assert body["totals"] == {**ZEROS, "storage_bytes": 10, "api_calls": 1}


def test_an_org_key_cannot_reach_another_org_or_the_user_routes(api, acme, globex):
    _, raw = make_key(acme)
    assert summary(api, "globex", HTTP_X_API_KEY=raw).status_code == 404
    assert ingest(api, [event()], "globex", HTTP_X_API_KEY=raw).status_code == 404
    assert summary(api, HTTP_X_API_KEY=raw).status_code == 403
    response = api.post(
        "/api/v1/usage/record",
        {"event_type": "api_call", "resource": "r"},
        format="json",
        HTTP_X_API_KEY=raw,
    )
    assert response.status_code == 403
    assert ingest(api, [event()], HTTP_X_API_KEY=raw).status_code == 403
    assert api.get("/api/v1/usage/history", HTTP_X_API_KEY=raw).status_code == 403
    assert not UsageEvent.objects.exists()


def test_the_oldest_timestamp_is_judged_in_utc(as_user, alice, march_first):
    client = as_user(alice)
    # 00:30 on Feb 1st in UTC+01:00 is Jan 31st 23:30 in UTC: before the previous period.
    response = ingest(client, [event(timestamp="2026-02-01T00:30:00+01:00")])
    assert fields(response) == ["events[0].timestamp"]
    # 23:30 on Jan 31st in UTC-01:00 is Feb 1st 00:30 in UTC: within it.
    response = ingest(client, [event(timestamp="2026-01-31T23:30:00-01:00")])
    assert response.status_code == 202, response.content
    assert UsagePeriod.objects.get(user=alice, period_start="2026-02-01").api_calls == 1


def test_metadata_values_must_be_strings(as_user, alice):
    response = record(as_user(alice), event_type="api_call", resource="r", metadata={"n": 5})
    assert fields(response)[0] in ("metadata", "metadata.n")
    response = ingest(as_user(alice), [event(metadata={"ok": "yes", "n": 5})])
    assert fields(response)[0] in ("events[0].metadata", "events[0].metadata.n")
    assert not UsageEvent.objects.exists()


def test_the_usage_routes_are_not_metered(as_user, api, alice, acme):
    """Contract §6.3: usage routes record no `api_call` (the summary includes unflushed
    counts, so a metered read would show in the next one)."""
    client = as_user(alice)
    for _ in range(3):
        assert summary(client).status_code == 200
        assert summary(client, "acme").status_code == 200
        assert client.get("/api/v1/usage/history?months=1").status_code == 200
    record(client, event_type="compute", resource="r")
    ingest(client, [event(event_type="compute")], "acme")
    assert totals(summary(client))["api_calls"] == 0
    assert totals(summary(client, "acme"))["api_calls"] == 0
    api.force_authenticate(None)  # from here on, the key alone
    _, raw = make_key(acme)
    for _ in range(3):
        assert summary(api, "acme", HTTP_X_API_KEY=raw).status_code == 200
    assert summary(api, "acme", HTTP_X_API_KEY=raw).json()["totals"]["api_calls"] == 0


PLAN = {"plan": "free", "limits": FREE}


def switched_plan_limits(*, user_id=None, organization_id=None):
    """A `USAGE_PLAN_LIMITS` hook answering from `PLAN` (as a subscription would switch it)."""
    return PLAN["plan"], dict(PLAN["limits"])


@pytest.fixture
def plan_of_alice(settings):
    from usage import periods

    PLAN.update(plan="free", limits=FREE)
    settings.USAGE_PLAN_LIMITS = "tests.usage.test_usage_api.switched_plan_limits"
    periods._plan_limits.cache_clear()  # the hook is resolved once
    yield PLAN
    settings.USAGE_PLAN_LIMITS = "billing.entitlements.usage_plan_limits"
    periods._plan_limits.cache_clear()


def test_user_limits_follow_a_plan_change_in_summary_and_history(as_user, alice, plan_of_alice):
    client = as_user(alice)
    record(client, event_type="api_call", resource="r", quantity=50_000)
    assert summary(client).json()["percentages"]["api_calls"] == 500
    plan_of_alice.update(plan="pro", limits=PRO)
    body = summary(client).json()
    assert (body["plan"], body["limits"], body["percentages"]["api_calls"]) == ("pro", PRO, 50)
    current = client.get("/api/v1/usage/history?months=1").json()["history"][0]
    assert (current["plan"], current["limits"], current["percentages"]["api_calls"]) == (
        "pro",
        PRO,
        50,
    )


def test_a_limit_of_zero_or_less_shows_zero_percent(as_user, alice, plan_of_alice):
    plan_of_alice.update(limits={**FREE, "compute_ms": 0, "file_uploads": -1})
    client = as_user(alice)
    record(client, event_type="compute", resource="r", quantity=5)
    record(client, event_type="file_upload", resource="r", quantity=5)
    body = summary(client).json()
    assert body["percentages"] == ZEROS
    assert body["totals"] == {**ZEROS, "compute_ms": 5, "file_uploads": 5}


def test_other_api_routes_are_metered_and_show_unflushed_in_the_summary(api, alice, acme):
    """The control of the test above (contract §6.3): a metered request shows at once."""
    meta = sessions.RequestMeta(ip="127.0.0.1", user_agent="pytest")
    token = sessions.session_create(user=alice, meta=meta, method="password").access.token
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/users/me").status_code == 200
    assert api.get("/api/v1/organizations/acme").status_code == 200
    assert summary(api).json()["totals"]["api_calls"] == 2
    assert summary(api, "acme").json()["totals"]["api_calls"] == 1
    _, raw = make_key(acme)
    api.credentials()
    assert api.get("/api/v1/organizations/acme/members", HTTP_X_API_KEY=raw).status_code == 200
    assert summary(api, "acme", HTTP_X_API_KEY=raw).json()["totals"]["api_calls"] == 2
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert summary(api).json()["totals"]["api_calls"] == 2  # the key's call is the org's only
