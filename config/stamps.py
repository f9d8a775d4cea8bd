"""Version stamps for per-process copies of small, hot tables (IP blocklist, token blacklist).

A process keeps the table in memory and, per use, reads one shared stamp from the cache; a
write sets a new stamp, so with a shared cache (Redis) every process reloads at once. With a
per-process cache (the embedded default) the stamp is the process's own, and copies are also
reloaded every `local_ttl` seconds, which bounds how stale another process can be.
"""

from __future__ import annotations

import functools
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction


@functools.lru_cache(maxsize=8)
def _is_local_backend(backend: str) -> bool:
    return backend.endswith("LocMemCache")


def uses_local_cache() -> bool:
    return _is_local_backend(settings.CACHES["default"]["BACKEND"])


class VersionStamp:
    def __init__(self, key: str) -> None:
        self.key = key
        self._local = uuid.uuid4().hex

    def current(self) -> str | None:
        """The stamp copies must match; None when the shared cache cannot be read."""
        if uses_local_cache():
            return self._local
        version = cache.get(self.key)
        if version is None:
            cache.add(self.key, uuid.uuid4().hex, timeout=None)
            version = cache.get(self.key)
        return version

    def bump(self, *, on_reset: object = None) -> None:
        """New stamp now (this process, this transaction) and again after the commit (everyone
        else, once the change is visible to them)."""

        def bump() -> None:
            self._local = uuid.uuid4().hex
            if not uses_local_cache():
                cache.set(self.key, self._local, timeout=None)
            if callable(on_reset):
                on_reset()

        bump()
        transaction.on_commit(bump)
