"""Windowed counters for rate limiting, on the fastest store that is correct for the setup.

- With django-redis: one pipelined round trip per check (INCR + EXPIRE + GET), shared by
  every process.
- With the local-memory cache (the embedded default, one process): a plain dict under a lock
  (the cache itself would be just as process-local, but pickles every value).
- Any other cache backend: Django's cache API.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("keel.security")
REDIS_ERRORS = (RedisError, OSError)


class Counters(Protocol):
    def incr_with_previous(self, key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        """Increment `key` (created with `ttl`); return (its new value, value of previous_key)."""
        ...

    def decr(self, key: str) -> None: ...

    def incr(self, key: str, ttl: int) -> int: ...


class LocalCounters:
    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def _get(self, key: str, now: float) -> int:
        item = self._values.get(key)
        return item[0] if item and item[1] > now else 0

    def incr(self, key: str, ttl: int) -> int:
        now = time.monotonic()
        with self._lock:
            value = self._get(key, now) + 1
            expires = self._values[key][1] if value > 1 else now + ttl
            self._values[key] = (value, expires)
            if now > self._next_sweep:
                self._values = {k: v for k, v in self._values.items() if v[1] > now}
                self._next_sweep = now + 60
            return value

    def incr_with_previous(self, key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        current = self.incr(key, ttl)
        with self._lock:
            return current, self._get(previous_key, time.monotonic())

    def decr(self, key: str) -> None:
        with self._lock:
            item = self._values.get(key)
            if item and item[0] > 0:
                self._values[key] = (item[0] - 1, item[1])

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class RedisCounters:
    """Fails open: when Redis is unreachable, requests are let through (and a warning logged)
    rather than turning every request into a 500."""

    def _client_and_key(self, key: str) -> tuple[Redis, str]:
        from django_redis import get_redis_connection

        return get_redis_connection("default"), cache.make_key(key)

    def incr_with_previous(self, key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        try:
            client, full_key = self._client_and_key(key)
            pipe = client.pipeline(transaction=False)
            pipe.incr(full_key)
            pipe.expire(
                full_key, ttl
            )  # per-bucket keys: refreshing the TTL is harmless (no NX: Redis 6)
            pipe.get(cache.make_key(previous_key))
            current, _, previous = pipe.execute()
        except REDIS_ERRORS:
            _warn_unavailable()
            return 0, 0
        return int(current), int(previous or 0)

    def incr(self, key: str, ttl: int) -> int:
        try:
            client, full_key = self._client_and_key(key)
            pipe = client.pipeline(transaction=False)
            pipe.incr(full_key)
            pipe.expire(
                full_key, ttl
            )  # per-bucket keys: refreshing the TTL is harmless (no NX: Redis 6)
            return int(pipe.execute()[0])
        except REDIS_ERRORS:
            _warn_unavailable()
            return 0

    def decr(self, key: str) -> None:
        try:
            client, full_key = self._client_and_key(key)
            client.decr(full_key)
        except REDIS_ERRORS:
            _warn_unavailable()


_last_warning = 0.0


def _warn_unavailable() -> None:
    """At most one warning every 30 s while Redis is down."""
    global _last_warning
    if time.monotonic() - _last_warning > 30:
        _last_warning = time.monotonic()
        logger.warning(
            "rate-limit counters unavailable (Redis); letting requests through", exc_info=True
        )


class CacheCounters:
    def incr(self, key: str, ttl: int) -> int:
        try:
            return int(cache.incr(key))
        except ValueError:
            if cache.add(key, 1, timeout=ttl):
                return 1
            return int(cache.incr(key))

    def incr_with_previous(self, key: str, previous_key: str, ttl: int) -> tuple[int, int]:
        return self.incr(key, ttl), int(cache.get(previous_key) or 0)

    def decr(self, key: str) -> None:
        with contextlib.suppress(ValueError):
            cache.decr(key)


_local = LocalCounters()
_redis = RedisCounters()
_generic = CacheCounters()


def counters() -> Counters:
    return _for_backend(settings.CACHES["default"]["BACKEND"])


@functools.lru_cache(maxsize=8)
def _for_backend(backend: str) -> Counters:
    if backend.endswith("LocMemCache"):
        return _local
    if backend.startswith("django_redis."):
        return _redis
    return _generic


def reset_local() -> None:
    """Forget this process's counters (tests)."""
    _local.clear()
