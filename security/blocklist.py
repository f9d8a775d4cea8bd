"""IP blocklist lookups, cheap enough for every request (contract §13.7).

Each process keeps the active blocks in memory (a dict of exact addresses and a list of
networks). Every lookup reads one shared version stamp from the cache; a write bumps the
stamp after commit, so with a shared cache (Redis) every process reloads at once. With a
per-process cache the copy is also reloaded every LOCAL_TTL seconds. Hit counts are added
up in memory and written in batches: a timer writes them HIT_FLUSH_SECONDS after the first
unwritten hit (no later hit is needed), and the process writes what is left when it stops
(`settings.SHUTDOWN_HOOKS`, config/shutdown.py).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.utils import timezone

from config.stamps import VersionStamp

logger = logging.getLogger("keel.security")
VERSION_KEY = "security:ipblock:version"
LOCAL_TTL = 5.0
HIT_FLUSH_SECONDS = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class _BlockSet:
    """Active blocks grouped by (IP version, prefix length) → {network as int: (id, expires_at)}.

    A lookup masks the address once per prefix length in use (a handful) and does a dict
    lookup, so its cost does not grow with the number of blocks."""

    version: str | None = None
    loaded_at: float = 0.0
    groups: dict[tuple[int, int], dict[int, tuple[int, datetime | None]]] = field(
        default_factory=dict
    )

    def add(self, network: IPNetwork, pk: int, expires_at: datetime | None) -> None:
        group = self.groups.setdefault((network.version, network.prefixlen), {})
        group[int(network.network_address)] = (pk, expires_at)


_lock = threading.Lock()
_blocks = _BlockSet()
_pending_hits: Counter[int] = Counter()
_flush_timer: threading.Timer | None = None
_stamp = VersionStamp(VERSION_KEY)


def _load(version: str | None) -> _BlockSet:
    from security.models import IPBlock, block_network

    now = timezone.now()
    rows = IPBlock.objects.filter(is_active=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    blocks = _BlockSet(version=version, loaded_at=time.monotonic())
    for pk, address, cidr, expires_at in rows.values_list(
        "pk", "ip_address", "ip_range", "expires_at"
    ):
        blocks.add(block_network(address, cidr), pk, expires_at)
    return blocks


def _current() -> _BlockSet:
    global _blocks
    version = _stamp.current()
    blocks = _blocks
    if blocks.version != version or time.monotonic() - blocks.loaded_at > LOCAL_TTL:
        try:
            fresh = _load(version)
        except DatabaseError:
            # Keep enforcing the last known blocks; the request itself will meet the outage.
            logger.warning("IP blocklist unavailable; using the last known blocks", exc_info=True)
            return blocks
        with _lock:
            blocks = _blocks = fresh
    return blocks


@functools.lru_cache(maxsize=4096)
def _address(ip: str) -> IPAddress | None:
    try:
        address: IPAddress = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def find_block(ip: str) -> int | None:
    """The id of a live block covering `ip`, or None."""
    address = _address(ip)
    if address is None:
        return None
    blocks = _current()
    value, bits = int(address), address.max_prefixlen
    for (ip_version, prefixlen), group in blocks.groups.items():
        if ip_version != address.version:
            continue
        hit = group.get(value >> (bits - prefixlen) << (bits - prefixlen))
        if hit is not None and (hit[1] is None or hit[1] > timezone.now()):
            return hit[0]
    return None


def record_hit(block_id: int) -> None:
    """Count a refused request; written HIT_FLUSH_SECONDS after the first unwritten hit."""
    with _lock:
        _pending_hits[block_id] += 1
        _arm_flush_timer()


def _arm_flush_timer() -> None:
    """Start the flush timer unless one is waiting (call with `_lock` held)."""
    global _flush_timer
    if _flush_timer is None:
        _flush_timer = threading.Timer(HIT_FLUSH_SECONDS, _flush_on_timer)
        _flush_timer.daemon = True  # never holds the process up; shutdown flushes instead
        _flush_timer.start()


def _flush_on_timer() -> None:
    try:
        flush_hits()
    finally:
        connections.close_all()  # this thread's own connections


def flush_hits() -> None:
    """Write the counted hits now (the timer, process shutdown). Counts that cannot be
    written stay pending and are tried again by a new timer."""
    from security.models import IPBlock

    global _flush_timer
    with _lock:
        pending = dict(_pending_hits)
        _pending_hits.clear()
        if _flush_timer is not None:
            _flush_timer.cancel()  # a no-op when it is the timer that runs this
            _flush_timer = None
    now = timezone.now()
    for block_id, count in list(pending.items()):
        try:
            IPBlock.objects.filter(pk=block_id).update(
                hit_count=F("hit_count") + count, last_hit_at=now
            )
        except DatabaseError:
            logger.warning("could not write IP block hit counts; will retry", exc_info=True)
            with _lock:
                _pending_hits.update(pending)
                _arm_flush_timer()
            return
        del pending[block_id]


def bump_version() -> None:
    """Make every process reload the blocklist (after the current transaction commits)."""
    _stamp.bump(on_reset=reset_local)


def reset_local() -> None:
    global _blocks
    _blocks = _BlockSet()


def discard_pending_hits() -> None:
    """Drop hit counts not yet written and the timer that would write them (tests)."""
    global _flush_timer
    with _lock:
        _pending_hits.clear()
        if _flush_timer is not None:
            _flush_timer.cancel()
            _flush_timer = None
