"""Version stamps (config/stamps.py): within one request every stamp is read at most once, all
in one round trip; a bump during the request is seen by the rest of it."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from config import stamps


@pytest.fixture
def shared_cache(monkeypatch):
    """Behave as with Redis (stamps in the shared cache), and count the cache reads."""
    monkeypatch.setattr(stamps, "uses_local_cache", lambda: False)
    calls: list[str] = []
    get = cache.get

    def get_many(keys: list[str]) -> dict[str, object]:  # one round trip with Redis
        calls.append("get_many")
        return {key: value for key in keys if (value := get(key)) is not None}

    monkeypatch.setattr(cache, "get", lambda *a, **k: calls.append("get") or get(*a, **k))
    monkeypatch.setattr(cache, "get_many", get_many)
    return calls


def test_a_request_reads_every_stamp_in_one_round_trip(shared_cache):
    first, second = stamps.VersionStamp("test:stamp:a"), stamps.VersionStamp("test:stamp:b")
    first.current(), second.current()  # outside a request: set and read one by one
    shared_cache.clear()
    with stamps.request_memo():
        a, b = first.current(), second.current()
        assert (first.current(), second.current()) == (a, b)
    assert shared_cache == ["get_many"]
    assert a and b and a != b


def test_a_bump_during_the_request_is_seen_by_the_rest_of_it(shared_cache, django_db_blocker):
    stamp = stamps.VersionStamp("test:stamp:c")
    with stamps.request_memo():
        before = stamp.current()
        with django_db_blocker.unblock():
            stamp.bump()
        assert stamp.current() not in (None, before)
    shared_cache.clear()
    stamp.current()  # after the request: read again
    assert shared_cache == ["get"]
