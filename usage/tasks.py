"""Usage jobs (contract §14): folding the API-call buffer every minute."""

from __future__ import annotations

from config.jobs import periodic
from usage.services import limits_sweep, usage_fold


@periodic("flush_usage_buffer", minutes=1)
def flush_usage_buffer() -> int:
    """With Redis, the calls every web process counted; without, this process's (none: each
    web process folds its own, every `USAGE_FLUSH_SECONDS` and when it stops)."""
    return usage_fold()


@periodic("sweep_usage_limits", minutes=10)
def sweep_usage_limits() -> int:
    """Check the limits of every scope with a period this month (limits change with plans)."""
    return limits_sweep()
