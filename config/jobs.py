"""Background jobs on django-q2: task registry with retries, schedules declared in code.

    from config.jobs import task

    @task(retries=5)                       # email jobs retry up to 5 times with backoff
    def send_welcome_email(*, user_id: int) -> None: ...

    send_welcome_email.enqueue(user_id=user.pk)   # runs after the current transaction commits

    @periodic("cleanup_expired_sessions", hourly=True)
    def cleanup_expired_sessions() -> int: ...

Schedules are created/updated idempotently by `manage.py setup_schedules` (also after
`migrate`). Jobs adopt the request id of the request that enqueued them.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import pkgutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, ParamSpec, TypeVar

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from config import metrics
from config.context import current_request_id, request_id_var, sanitize_request_id

logger = logging.getLogger("keel.jobs")
P = ParamSpec("P")
R = TypeVar("R")

KEEL_APPS = ("config", "accounts", "organizations", "billing", "usage", "security")
BACKOFF_BASE_SECONDS = 30


@dataclass
class TaskSpec:
    name: str
    path: str
    retries: int
    func: Callable[..., Any]


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    path: str
    minutes: int | None = None
    hourly: bool = False
    daily_at: time | None = None


TASKS: dict[str, TaskSpec] = {}
SCHEDULES: dict[str, ScheduleSpec] = {}


class Task:
    """A registered job: call it directly (synchronously) or `.enqueue(**kwargs)` it."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.__wrapped__ = spec.func
        self.__doc__ = spec.func.__doc__
        self.__name__ = spec.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.spec.func(*args, **kwargs)

    def enqueue(self, **kwargs: Any) -> None:
        """Queue the job once the surrounding transaction commits (immediately outside one)."""
        request_id = current_request_id()
        transaction.on_commit(lambda: _submit(self.spec.name, kwargs, 1, request_id))


def task(retries: int = 3, name: str | None = None) -> Callable[[Callable[..., Any]], Task]:
    """Register a function as a job. Jobs take keyword arguments only (JSON-friendly values)."""

    def decorator(func: Callable[..., Any]) -> Task:
        spec = TaskSpec(
            name=name or func.__name__,
            path=f"{func.__module__}.{func.__qualname__}",
            retries=retries,
            func=func,
        )
        TASKS[spec.name] = spec
        return Task(spec)

    return decorator


def enqueue(name: str, **kwargs: Any) -> None:
    """Queue a registered job by its name, after the transaction commits: for a service whose
    job calls back into it (the job's module imports the service's, so the service cannot
    import the job's)."""
    autodiscover()
    if name not in TASKS:
        raise LookupError(f"no job named {name!r}")
    Task(TASKS[name]).enqueue(**kwargs)


def periodic(
    name: str, *, minutes: int | None = None, hourly: bool = False, daily_at: time | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a recurring job; `setup_schedules` turns declarations into django-q2 schedules."""

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        SCHEDULES[name] = ScheduleSpec(
            name=name,
            path=f"{func.__module__}.{func.__qualname__}",
            minutes=minutes,
            hourly=hourly,
            daily_at=daily_at,
        )
        return func

    return decorator


def _submit(name: str, kwargs: dict[str, Any], attempt: int, request_id: str | None) -> None:
    from django_q.tasks import async_task

    async_task(
        "config.jobs.execute",
        name,
        kwargs,
        attempt,
        request_id,
        task_name=f"{name} #{attempt}" if attempt > 1 else name,
    )


def execute(
    name: str, kwargs: dict[str, Any], attempt: int = 1, request_id: str | None = None
) -> Any:
    """Worker entry point: run the job, and on failure schedule a retry with backoff."""
    autodiscover()
    spec = TASKS[name]
    token = request_id_var.set(sanitize_request_id(request_id))
    try:
        result = spec.func(**kwargs)
    except Exception:
        metrics.JOBS.labels(task=name, result="failure").inc()
        if attempt <= spec.retries:
            delay = BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
            logger.warning(
                "job %s failed (attempt %s); retrying in %ss", name, attempt, delay, exc_info=True
            )
            _schedule_retry(name, kwargs, attempt + 1, request_id, delay)
        else:
            logger.error("job %s failed after %s attempts", name, attempt, exc_info=True)
        raise
    else:
        metrics.JOBS.labels(task=name, result="success").inc()
        return result
    finally:
        request_id_var.reset(token)


def _schedule_retry(
    name: str, kwargs: dict[str, Any], attempt: int, request_id: str | None, delay: int
) -> None:
    from django_q.models import Schedule

    Schedule.objects.create(
        name=f"retry {name} #{attempt} {timezone.now():%H%M%S%f}"[:100],  # Schedule.name: 100 chars
        func="config.jobs.execute",
        args=repr((name, kwargs, attempt, request_id)),
        schedule_type=Schedule.ONCE,
        repeats=-1,  # django-q2 deletes a ONCE schedule with negative repeats once it has run
        next_run=timezone.now() + timedelta(seconds=delay),
    )


def autodiscover() -> None:
    """Import every `tasks` module of Keel's apps — `<app>.tasks` and those of the app's
    sub-packages (`accounts.privacy.tasks`) — so that tasks and schedules are registered."""
    for app in apps.get_app_configs():
        if app.name not in KEEL_APPS:
            continue
        for module in _task_modules(app.name, app.path):
            importlib.import_module(module)


@functools.cache
def _task_modules(package: str, path: str) -> tuple[str, ...]:
    found = []
    for info in pkgutil.walk_packages([path], prefix=f"{package}."):
        if info.name.rsplit(".", 1)[-1] == "tasks" and ".migrations" not in info.name:
            found.append(info.name)
    return tuple(sorted(found))


def _next_daily_run(at: time) -> datetime:
    now = timezone.now()
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def _runs_daily_at(next_run: datetime | None, at: time) -> bool:
    if next_run is None:
        return False
    utc = next_run.astimezone(UTC)
    return (utc.hour, utc.minute, utc.second) == (at.hour, at.minute, 0)


def sync_schedules() -> dict[str, list[str]]:
    """Create or update every declared schedule; delete Keel schedules no longer declared."""
    from django_q.models import Schedule

    autodiscover()
    report: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    with transaction.atomic():
        for spec in SCHEDULES.values():
            fields: dict[str, Any] = {"func": spec.path, "repeats": -1}
            if spec.minutes:
                fields.update(schedule_type=Schedule.MINUTES, minutes=spec.minutes)
            elif spec.hourly:
                fields.update(schedule_type=Schedule.HOURLY, minutes=None)
            elif spec.daily_at:
                fields.update(schedule_type=Schedule.DAILY, minutes=None)
            existing = Schedule.objects.filter(name=spec.name).first()
            if existing is None:
                next_run = _next_daily_run(spec.daily_at) if spec.daily_at else timezone.now()
                Schedule.objects.create(name=spec.name, next_run=next_run, **fields)
                report["created"].append(spec.name)
                continue
            changed = {k: v for k, v in fields.items() if getattr(existing, k) != v}
            if spec.daily_at and not _runs_daily_at(existing.next_run, spec.daily_at):
                changed["next_run"] = _next_daily_run(spec.daily_at)  # new time or new type
            if changed:
                for key, value in changed.items():
                    setattr(existing, key, value)
                existing.save(update_fields=list(changed))
                report["updated"].append(spec.name)
            else:
                report["unchanged"].append(spec.name)
        stale = (
            Schedule.objects.exclude(name__in=list(SCHEDULES))
            .exclude(schedule_type=Schedule.ONCE)
            .filter(func__regex=r"^(" + "|".join(KEEL_APPS) + r")\.")
        )
        report["deleted"] = list(stale.values_list("name", flat=True))
        stale.delete()
    return report


# --- Worker heartbeat -------------------------------------------------------------------------


def record_heartbeat() -> None:
    from config.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        name=f"{socket.gethostname()}:{os.getppid()}",
        defaults={"beat_at": timezone.now(), "pid": os.getpid()},
    )


@periodic("worker_heartbeat", minutes=1)
def worker_heartbeat() -> None:
    """Every minute: prove that a worker is alive (read by the `jobs` health component)."""
    record_heartbeat()
    from config.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(beat_at__lt=timezone.now() - timedelta(days=1)).delete()


def last_heartbeat() -> datetime | None:
    from config.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.order_by("-beat_at").values_list("beat_at", flat=True).first()


def _on_spawn(sender: object, proc_name: str, **kwargs: Any) -> None:
    try:
        record_heartbeat()
    except Exception:  # never stop a worker from starting
        logger.warning("could not record worker heartbeat", exc_info=True)


def connect_signals() -> None:
    from django_q.signals import post_spawn

    post_spawn.connect(_on_spawn, dispatch_uid="keel-heartbeat-on-spawn")
