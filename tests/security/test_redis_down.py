"""With Redis unreachable, Keel keeps answering: the cache is an accelerator, rate limits fail
open (with a warning), and health reports the cache as degraded."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db]

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


def test_requests_are_served_when_redis_is_down(client, settings, caplog):
    settings.CACHES = DEAD_REDIS
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
    assert any("rate-limit counters unavailable" in r.getMessage() for r in caplog.records)


def test_health_reports_the_cache_degraded_not_down(client, settings):
    settings.CACHES = DEAD_REDIS
    response = client.get("/health")
    assert response.status_code == 200
    cache = next(c for c in response.json()["components"] if c["name"] == "cache")
    assert cache["status"] == "degraded"
    assert client.get("/health/ready").json()["cache"] == "unavailable"
