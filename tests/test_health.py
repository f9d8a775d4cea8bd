"""/health, /health/ready, /health/live (contract §1)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from config.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    """Make every new database cursor fail as if PostgreSQL were unreachable."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)


def components(body: dict) -> dict[str, dict]:
    return {c["name"]: c for c in body["components"]}


def test_health_reports_every_component(api):
    WorkerHeartbeat.objects.create(name="w1", beat_at=timezone.now())
    response = api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(components(body)) == {"database", "cache", "jobs", "channel_layer"}
    assert body["overall_status"] == "healthy"
    assert body["timestamp"].endswith("Z")
    assert body["version"]["version"]
    assert body["uptime"].endswith("s")
    assert all(c["status"] == "healthy" and c["latency"].endswith("ms") for c in body["components"])
    assert response["X-Environment"] == "development"
    assert "runtime" not in body


def test_health_is_degraded_not_down_without_a_worker(api):
    response = api.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["overall_status"] == "degraded"
    assert components(body)["jobs"]["status"] == "degraded"


def test_health_is_degraded_when_the_worker_heartbeat_is_stale(api):
    WorkerHeartbeat.objects.create(name="w1", beat_at=timezone.now() - timedelta(seconds=121))
    assert components(api.get("/health").json())["jobs"]["status"] == "degraded"


def test_health_is_degraded_when_the_cache_loses_writes(api, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    WorkerHeartbeat.objects.create(name="w1", beat_at=timezone.now())
    response = api.get("/health")
    assert response.status_code == 200
    assert components(response.json())["cache"]["status"] == "degraded"
    ready = api.get("/health/ready").json()
    assert ready["cache"] == "unavailable"
    assert ready["status"] == "ready"


def test_health_adds_runtime_when_verbose(api):
    runtime = api.get("/health?verbose=true").json()["runtime"]
    assert set(runtime) == {"python_version", "django_version", "pid", "memory_rss"}


def test_health_is_503_with_the_envelope_when_the_database_is_down(api, database_down):
    response = api.get("/health", HTTP_X_REQUEST_ID="hc-1")
    assert response.status_code == 503
    body = response.json()
    assert body["overall_status"] == "unhealthy"
    assert components(body)["database"]["status"] == "unhealthy"
    assert (
        body["error"] == "INTERNAL_ERROR" and body["code"] == 503 and body["request_id"] == "hc-1"
    )


def test_ready_is_200_when_the_database_answers(api):
    body = api.get("/health/ready").json()
    assert body["status"] == "ready"
    assert body["database"] == "healthy"
    assert body["cache"] == "healthy"


def test_ready_is_503_when_the_database_is_down(api, database_down):
    response = api.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert response.json()["error"] == "INTERNAL_ERROR"


def test_live_touches_no_dependency(api, database_down, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "alive"


def test_health_ignores_bad_credentials(api):
    response = api.get("/health/live", HTTP_AUTHORIZATION="Bearer garbage")
    assert response.status_code == 200
