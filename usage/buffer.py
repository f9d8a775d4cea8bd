"""The API-call buffer (contract §6.3): each metered request adds to a counter, never to the
database; `usage_fold` moves the counts into periods and aggregated events.

- With `REDIS_URL` the counters are one Redis hash shared by every process: a web process that
  dies between two folds loses nothing. Folding renames the hash first (atomic), so requests
  go on counting into a fresh one, and a fold that fails leaves the renamed hash for the next.
- Without Redis they live in the web process's memory, folded by a thread of that process
  every `USAGE_FLUSH_SECONDS` and when it stops (the shutdown hook): a crash loses at most one
  interval's counts.

A field is `<u|o>:<id>:<YYYY-MM>`: a user's or an organization's calls in a UTC month (the
month at counting time, so a fold after midnight on the 1st still credits the old month).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections as db_connections
from django_redis import get_redis_connection

logger = logging.getLogger("keel.usage")


def field(kind: str, scope_id: int, moment: datetime | None = None) -> str:
    month = (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m")
    return f"{kind}:{scope_id}:{month}"


def _redis() -> Any:
    return get_redis_connection("default")


def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "keel"
    return f"{prefix}:usage:{name}"


class MemoryBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, fields: list[str]) -> None:
        with self._lock:
            self._counts.update(fields)

    def peek(self, fields: list[str]) -> dict[str, int]:
        with self._lock:
            return {f: self._counts.get(f, 0) for f in fields}

    def take(self) -> list[tuple[str, dict[str, int]]]:
        """The counts to fold, as (batch id, counts); the buffer starts again from zero."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return [(f"memory:{uuid.uuid4().hex}", dict(counts))] if counts else []

    def done(self, batch: str) -> None:
        pass

    def restore(self, counts: dict[str, int]) -> None:
        """A fold failed: put its counts back for the next one."""
        with self._lock:
            self._counts.update(counts)


class RedisBuffer:
    def add(self, fields: list[str]) -> None:
        try:
            pipe = _redis().pipeline(transaction=False)
            for name in fields:
                pipe.hincrby(_key("buffer"), name, 1)
            pipe.execute()
        except Exception:  # Redis down: the request is served, its count is lost (logged)
            logger.warning("usage buffer unavailable; API calls not counted", exc_info=True)

    def peek(self, fields: list[str]) -> dict[str, int]:
        try:
            client = _redis()
            values = client.hmget(_key("buffer"), fields) if fields else []
            pending = list(client.scan_iter(match=_key("folding:*")))
            extra = [client.hmget(k, fields) for k in pending]
        except Exception:
            return dict.fromkeys(fields, 0)
        out = {}
        for index, name in enumerate(fields):
            total = int(values[index] or 0)
            total += sum(int(row[index] or 0) for row in extra)
            out[name] = total
        return out

    def take(self) -> list[tuple[str, dict[str, int]]]:
        client = _redis()
        batch = _key(f"folding:{int(time.time())}:{uuid.uuid4().hex}")
        try:
            client.rename(_key("buffer"), batch)
        except Exception as error:  # nothing counted since the last fold
            if "no such key" not in str(error).lower():
                raise
        batches = []
        for name in sorted(client.scan_iter(match=_key("folding:*"))):  # a failed fold's too
            name = name.decode() if isinstance(name, bytes) else name
            raw = client.hgetall(name)
            counts = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
            batches.append((name, counts))
        return batches

    def done(self, batch: str) -> None:
        _redis().delete(batch)

    def restore(self, counts: dict[str, int]) -> None:
        pass  # the batch's hash stays in Redis until a fold commits it


_memory = MemoryBuffer()


def buffer_discard() -> None:
    """Drop every count not folded yet, in memory and in Redis (the test suite, between tests)."""
    _memory.take()
    if settings.REDIS_URL:
        client = _redis()
        for name in list(client.scan_iter(match=_key("*"))):
            client.delete(name)


def buffer() -> MemoryBuffer | RedisBuffer:
    return RedisBuffer() if settings.REDIS_URL else _memory


# --- The web process's flusher (memory buffer) ---------------------------------------------------

_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def flusher_start(fold: Callable[[], Any]) -> None:
    """Call `fold` every `USAGE_FLUSH_SECONDS` from a daemon thread (started with the first
    counted request; the memory buffer only: with Redis the worker's job folds)."""
    global _flusher
    if settings.REDIS_URL or not settings.USAGE_FLUSH_THREAD or _flusher is not None:
        return
    with _flusher_lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(
            target=_flush_forever, args=(fold,), name="usage-flusher", daemon=True
        )
        _flusher.start()


def _flush_forever(fold: Callable[[], Any]) -> None:
    while True:
        time.sleep(settings.USAGE_FLUSH_SECONDS)
        try:
            fold()
        except Exception:
            logger.exception("usage fold failed; the counts wait for the next one")
        finally:
            db_connections.close_all()  # this thread's connection goes back (to the pool)
