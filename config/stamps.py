"""Version stamps for per-process copies of small, hot tables (IP blocklist, token blacklist).

A process keeps the table in memory and, per use, reads one shared stamp from the cache; a
write sets a new stamp, so with a shared cache (Redis) every process reloads at once. With a
per-process cache (the embedded default) the stamp is the process's own, and copies are also
reloaded every `local_ttl` seconds, which bounds how stale another process can be.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import transaction


@functools.lru_cache(maxsize=8)
def _is_local_backend(backend: str) -> bool:
    return backend.endswith("LocMemCache")


def uses_local_cache() -> bool:
    return _is_local_backend(settings.CACHES["default"]["BACKEND"])


_stamps: list[VersionStamp] = []
# .memo: while a request runs in this thread, the stamps read for it ({} until the first read)
_request = threading.local()


@contextmanager
def request_memo() -> Iterator[None]:
    """Within one request, read every stamp at most once and all in one round trip (a signed-in
    request needs both the blocklist's and the token blacklist's)."""
    _request.memo = {}
    try:
        yield
    finally:
        _request.memo = None


def _memo() -> dict[str, str] | None:
    return getattr(_request, "memo", None)


class VersionStamp:
    def __init__(self, key: str) -> None:
        self.key = key
        self._local = uuid.uuid4().hex
        _stamps.append(self)

    def current(self) -> str | None:
        """The stamp copies must match; None when the shared cache cannot be read."""
        if uses_local_cache():
            return self._local
        memo = _memo()
        if memo is not None:  # inside request_memo()
            if not memo:
                memo.update(cache.get_many([stamp.key for stamp in _stamps]))
                memo[""] = "read"  # read once, even when no stamp is set yet
            if memo.get(self.key) is not None:
                return memo[self.key]
        version = cache.get(self.key)
        if version is None:
            cache.add(self.key, uuid.uuid4().hex, timeout=None)
            version = cache.get(self.key)
        if memo is not None and version is not None:
            memo[self.key] = version
        return version

    def bump(self, *, on_reset: object = None) -> None:
        """New stamp now (this process, this transaction) and again after the commit (everyone
        else, once the change is visible to them)."""

        def bump() -> None:
            self._local = uuid.uuid4().hex
            if not uses_local_cache():
                cache.set(self.key, self._local, timeout=None)
            memo = _memo()
            if memo is not None:
                memo[self.key] = self._local
            if callable(on_reset):
                on_reset()

        bump()
        transaction.on_commit(bump)
