"""Background jobs (contract §14): the task registry with retries, request-id propagation,
declared schedules, the worker heartbeat and the `jobs` health component."""

from __future__ import annotations

import ast
import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler
from django_q.signals import post_spawn

from config import health, jobs
from config.context import current_request_id, request_id_var
from config.jobs import SCHEDULES, ScheduleSpec, execute, sync_schedules, task
from config.models import WorkerHeartbeat

CALLS: list[dict[str, Any]] = []
FLAKY_FAILURES: list[int] = []


@task(retries=2, name="keel_tests_jobs_remember")
def remember(**kwargs: Any) -> None:
    CALLS.append({"kwargs": kwargs, "request_id": current_request_id()})


@task(retries=2, name="keel_tests_jobs_add")
def add(*, a: int, b: int) -> int:
    return a + b


@task(retries=2, name="keel_tests_jobs_always_fails")
def always_fails(**kwargs: Any) -> None:
    raise RuntimeError("boom")


@task(retries=2, name="keel_tests_jobs_fails_once")
def fails_once(**kwargs: Any) -> None:
    if not FLAKY_FAILURES:
        FLAKY_FAILURES.append(1)
        raise RuntimeError("transient")
    CALLS.append({"kwargs": kwargs, "request_id": current_request_id()})


def noop() -> None:
    """Target of the schedules declared by these tests."""


@pytest.fixture(autouse=True)
def _clean_calls() -> Iterator[None]:
    """Jobs run inline in tests (conftest); start and end each test with no recorded calls."""
    CALLS.clear()
    FLAKY_FAILURES.clear()
    yield
    CALLS.clear()


@contextlib.contextmanager
def request_id(value: str) -> Iterator[None]:
    token = request_id_var.set(value)
    try:
        yield
    finally:
        request_id_var.reset(token)


def retry_schedules() -> list[Schedule]:
    return list(Schedule.objects.filter(func="config.jobs.execute", schedule_type=Schedule.ONCE))


# --- Enqueue ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_enqueued_job_runs_only_once_the_transaction_commits():
    with transaction.atomic():
        remember.enqueue(n=1)
        assert CALLS == []
    assert [call["kwargs"] for call in CALLS] == [{"n": 1}]


@pytest.mark.django_db(transaction=True)
def test_an_enqueued_job_never_runs_when_the_transaction_rolls_back():
    with contextlib.suppress(RuntimeError), transaction.atomic():
        remember.enqueue(n=1)
        raise RuntimeError("the write failed")
    assert CALLS == []


@pytest.mark.django_db(transaction=True)
def test_an_enqueued_job_runs_at_once_outside_a_transaction():
    remember.enqueue(n=2)
    assert [call["kwargs"] for call in CALLS] == [{"n": 2}]


@pytest.mark.django_db(transaction=True)
def test_an_enqueued_job_adopts_the_request_id_of_its_request():
    with request_id("req-enqueue-1"):
        remember.enqueue(n=1)
    assert CALLS[0]["request_id"] == "req-enqueue-1"


def test_a_task_called_directly_runs_synchronously():
    assert add(a=2, b=3) == 5


def test_the_decorator_registers_the_task_under_its_name():
    spec = jobs.TASKS["keel_tests_jobs_add"]
    assert (spec.retries, spec.path) == (2, "tests.test_jobs.add")


# --- execute ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_execute_runs_the_job_and_returns_its_result():
    assert execute("keel_tests_jobs_add", {"a": 2, "b": 40}) == 42
    assert retry_schedules() == []


@pytest.mark.django_db
def test_execute_runs_the_job_under_the_given_request_id():
    execute("keel_tests_jobs_remember", {}, 1, "req-123")
    assert CALLS[0]["request_id"] == "req-123"


@pytest.mark.django_db
def test_execute_mints_a_request_id_when_none_was_given():
    execute("keel_tests_jobs_remember", {}, 1, None)
    assert CALLS[0]["request_id"]


@pytest.mark.django_db
def test_execute_restores_the_callers_request_id():
    with request_id("req-outer"):
        execute("keel_tests_jobs_remember", {}, 1, "req-inner")
        assert current_request_id() == "req-outer"


@pytest.mark.django_db
def test_a_failed_job_reraises():
    with pytest.raises(RuntimeError, match="boom"):
        execute("keel_tests_jobs_always_fails", {"n": 1}, 1, "req-1")


@pytest.mark.django_db
def test_a_failed_job_schedules_its_next_attempt_once():
    with pytest.raises(RuntimeError):
        execute("keel_tests_jobs_always_fails", {"n": 1}, 1, "req-1")
    [retry] = retry_schedules()
    assert ast.literal_eval(retry.args) == ("keel_tests_jobs_always_fails", {"n": 1}, 2, "req-1")
    assert retry.repeats != 0  # the django-q2 scheduler skips schedules with repeats == 0


@pytest.mark.parametrize(("attempt", "delay"), [(1, 30), (2, 60)])
@pytest.mark.django_db
def test_the_retry_delay_doubles_with_each_attempt(attempt, delay):
    before = timezone.now()
    with pytest.raises(RuntimeError):
        execute("keel_tests_jobs_always_fails", {}, attempt, None)
    [retry] = retry_schedules()
    assert (
        before + timedelta(seconds=delay)
        <= retry.next_run
        <= timezone.now() + timedelta(seconds=delay)
    )


@pytest.mark.django_db
def test_no_retry_is_scheduled_after_the_last_attempt():
    with pytest.raises(RuntimeError):
        execute("keel_tests_jobs_always_fails", {}, 3, None)  # retries=2: attempts 1, 2 and 3
    assert retry_schedules() == []


@pytest.mark.django_db
def test_a_due_retry_runs_the_job_again_and_is_then_removed():
    with pytest.raises(RuntimeError):
        execute("keel_tests_jobs_fails_once", {"n": 5}, 1, "req-retry")
    Schedule.objects.filter(func="config.jobs.execute").update(
        next_run=timezone.now() - timedelta(seconds=1)
    )
    scheduler()
    assert CALLS == [{"kwargs": {"n": 5}, "request_id": "req-retry"}]
    assert retry_schedules() == []


# --- Schedules --------------------------------------------------------------------------------


@pytest.fixture
def no_schedules(db: None) -> None:
    """Start from an empty table (migrate already synced the schedules into the test DB)."""
    Schedule.objects.all().delete()


def test_sync_schedules_creates_the_worker_heartbeat_schedule(no_schedules):
    report = sync_schedules()
    assert "worker_heartbeat" in report["created"]
    schedule = Schedule.objects.get(name="worker_heartbeat")
    assert schedule.func == "config.jobs.worker_heartbeat"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES,
        1,
        -1,
    )


def test_sync_schedules_creates_every_declared_schedule(no_schedules):
    sync_schedules()
    assert set(Schedule.objects.values_list("name", flat=True)) == set(SCHEDULES)


def test_sync_schedules_is_idempotent(no_schedules):
    sync_schedules()
    count = Schedule.objects.count()
    report = sync_schedules()
    assert (report["created"], report["updated"], report["deleted"]) == ([], [], [])
    assert sorted(report["unchanged"]) == sorted(SCHEDULES)
    assert Schedule.objects.count() == count


def test_sync_schedules_restores_an_interval_changed_in_the_database(no_schedules):
    sync_schedules()
    Schedule.objects.filter(name="worker_heartbeat").update(minutes=15)
    report = sync_schedules()
    assert report["updated"] == ["worker_heartbeat"]
    assert Schedule.objects.get(name="worker_heartbeat").minutes == 1


def test_sync_schedules_deletes_a_keel_schedule_no_longer_declared(no_schedules):
    Schedule.objects.create(
        name="cleanup_something_retired",
        func="config.jobs.cleanup_something_retired",
        schedule_type=Schedule.HOURLY,
        repeats=-1,
    )
    report = sync_schedules()
    assert report["deleted"] == ["cleanup_something_retired"]
    assert not Schedule.objects.filter(name="cleanup_something_retired").exists()


def test_sync_schedules_keeps_schedules_of_other_code(no_schedules):
    Schedule.objects.create(
        name="operator_report", func="reports.tasks.weekly", schedule_type=Schedule.WEEKLY
    )
    sync_schedules()
    assert Schedule.objects.filter(name="operator_report").exists()


@pytest.mark.django_db
def test_sync_schedules_keeps_pending_retries():
    with pytest.raises(RuntimeError):
        execute("keel_tests_jobs_always_fails", {}, 1, None)
    report = sync_schedules()
    assert report["deleted"] == []
    assert len(retry_schedules()) == 1


def test_sync_schedules_starts_a_daily_schedule_at_its_time(no_schedules, monkeypatch):
    monkeypatch.setitem(
        SCHEDULES,
        "keel_tests_daily",
        ScheduleSpec(name="keel_tests_daily", path="tests.test_jobs.noop", daily_at=time(3, 0)),
    )
    sync_schedules()
    schedule = Schedule.objects.get(name="keel_tests_daily")
    next_run = schedule.next_run.astimezone(UTC)
    assert schedule.schedule_type == Schedule.DAILY
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 0, 0)
    assert timezone.now() < next_run <= timezone.now() + timedelta(days=1)


def test_sync_schedules_moves_a_daily_schedule_whose_time_changed(no_schedules, monkeypatch):
    def declare(at: time) -> None:
        monkeypatch.setitem(
            SCHEDULES,
            "keel_tests_daily",
            ScheduleSpec(name="keel_tests_daily", path="tests.test_jobs.noop", daily_at=at),
        )

    declare(time(3, 0))
    sync_schedules()
    declare(time(4, 30))
    report = sync_schedules()
    assert report["updated"] == ["keel_tests_daily"]
    next_run = Schedule.objects.get(name="keel_tests_daily").next_run.astimezone(UTC)
    assert (next_run.hour, next_run.minute) == (4, 30)


def test_the_setup_schedules_command_creates_the_schedules(no_schedules):
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert Schedule.objects.filter(name="worker_heartbeat").exists()
    assert "worker_heartbeat" in out.getvalue()
    assert "Schedules are up to date." in out.getvalue()


# --- Heartbeat and health ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_spawned_worker_records_a_heartbeat():
    post_spawn.send(sender="django_q", proc_name="Process-1")
    beat = WorkerHeartbeat.objects.get()
    assert beat.pid == os.getpid()
    assert timezone.now() - beat.beat_at < timedelta(seconds=5)


@pytest.mark.django_db
def test_a_failing_heartbeat_does_not_stop_a_worker_from_starting(monkeypatch):
    def broken() -> None:
        raise RuntimeError("database is down")

    monkeypatch.setattr(jobs, "record_heartbeat", broken)
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_the_heartbeat_job_refreshes_the_beat_and_forgets_day_old_clusters():
    WorkerHeartbeat.objects.create(
        name="gone-host:1", pid=1, beat_at=timezone.now() - timedelta(days=2)
    )
    jobs.worker_heartbeat()
    assert not WorkerHeartbeat.objects.filter(name="gone-host:1").exists()
    assert timezone.now() - jobs.last_heartbeat() < timedelta(seconds=5)


@pytest.mark.django_db
def test_the_jobs_component_is_degraded_without_a_heartbeat():
    component = health.check_jobs()
    assert component.status == health.DEGRADED
    assert "no worker heartbeat" in component.message


@pytest.mark.django_db
def test_the_jobs_component_is_healthy_with_a_fresh_heartbeat():
    jobs.record_heartbeat()
    assert health.check_jobs().status == health.HEALTHY


@pytest.mark.parametrize(
    ("age", "status"), [(119, health.HEALTHY), (121, health.DEGRADED)], ids=["119s", "121s"]
)
@pytest.mark.django_db
def test_the_jobs_component_degrades_once_the_heartbeat_is_older_than_120_s(age, status):
    beat_at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    WorkerHeartbeat.objects.create(name="host:1", pid=1, beat_at=beat_at)
    with time_machine.travel(beat_at + timedelta(seconds=age), tick=False):
        assert health.check_jobs().status == status


def test_jobs_of_sub_packages_are_discovered():
    jobs.autodiscover()
    assert jobs.TASKS["generate_data_export"].path == (
        "accounts.privacy.tasks.generate_data_export"
    )
    assert jobs.TASKS["send_verification_email"].path.startswith("accounts.core.tasks.")
    assert SCHEDULES["purge_deleted_accounts"].path.startswith("accounts.privacy.tasks.")


def test_a_job_can_be_queued_by_name_after_commit(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    submitted = []
    monkeypatch.setattr(
        jobs, "_submit", lambda name, kwargs, attempt, rid: submitted.append((name, kwargs))
    )
    with pytest.raises(LookupError):
        jobs.enqueue("no_such_job")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue("generate_data_export", export_id=7)
        assert submitted == []  # only once the transaction commits
    assert submitted == [("generate_data_export", {"export_id": 7})]
