"""Scheduled jobs of the security app."""

from __future__ import annotations

from config.jobs import periodic
from security import idempotency


@periodic("cleanup_idempotency_keys", hourly=True)
def cleanup_idempotency_keys() -> int:
    """Delete idempotency keys older than 24 h."""
    return idempotency.purge_expired()
