"""Dependency checks behind /health, /health/ready and /admin/health (contract §1)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from config import jobs

logger = logging.getLogger("keel.health")
HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
STARTED_AT = time.monotonic()


@dataclass
class Component:
    name: str
    status: str
    message: str = ""
    latency_ms: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.message:
            data["message"] = self.message
        if self.latency_ms is not None:
            data["latency"] = f"{self.latency_ms:.2f}ms"
        return data


def _timed(name: str, probe: Any) -> Component:
    started = time.perf_counter()
    try:
        status, message = probe()
    except Exception as exc:
        logger.warning("health check %s failed: %s", name, exc)
        status, message = UNHEALTHY, f"{exc.__class__.__name__}: {str(exc)[:200]}"
    return Component(name, status, message, (time.perf_counter() - started) * 1000)


def check_database() -> Component:
    def probe() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return HEALTHY, ""

    return _timed("database", probe)


def check_cache() -> Component:
    def probe() -> tuple[str, str]:
        key, value = f"health:{uuid.uuid4().hex}", "ok"
        cache.set(key, value, timeout=10)
        read = cache.get(key)
        cache.delete(key)
        if read != value:
            return DEGRADED, "cache did not return the value written (unavailable?)"
        return HEALTHY, ""

    return _timed("cache", probe)


def check_jobs() -> Component:
    def probe() -> tuple[str, str]:
        beat = jobs.last_heartbeat()
        if beat is None:
            return DEGRADED, "no worker heartbeat recorded"
        age = (timezone.now() - beat).total_seconds()
        if age > settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS:
            return DEGRADED, f"last worker heartbeat {int(age)} s ago"
        return HEALTHY, f"last worker heartbeat {int(age)} s ago"

    return _timed("jobs", probe)


def check_channel_layer() -> Component:
    async def roundtrip() -> tuple[str, str]:
        layer = get_channel_layer()
        if layer is None:
            return UNHEALTHY, "no channel layer configured"
        channel = await layer.new_channel("health.")
        await asyncio.wait_for(layer.send(channel, {"type": "health.ping"}), timeout=2)
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        if message.get("type") != "health.ping":
            return DEGRADED, "unexpected message"
        return HEALTHY, ""

    def probe() -> tuple[str, str]:
        return async_to_sync(roundtrip)()

    return _timed("channel_layer", probe)


def overall(components: list[Component]) -> str:
    by_name = {c.name: c for c in components}
    if by_name["database"].status == UNHEALTHY:
        return UNHEALTHY
    if any(c.status != HEALTHY for c in components):
        return DEGRADED
    return HEALTHY


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def uptime() -> str:
    seconds = int(time.monotonic() - STARTED_AT)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


def version_info() -> dict[str, str]:
    info = {"version": settings.VERSION}
    if settings.BUILD_TIME:
        info["build_time"] = settings.BUILD_TIME
    if settings.GIT_COMMIT:
        info["git_commit"] = settings.GIT_COMMIT
    return info
