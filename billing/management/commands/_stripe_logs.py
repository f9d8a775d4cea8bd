"""Quiet the stripe library's per-request INFO lines while a command draws its progress bar."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stripe_requests_quiet(verbosity: int) -> Iterator[None]:
    """Below `-v 2`, the `stripe` logger says only warnings and errors for the duration."""
    stripe_logger = logging.getLogger("stripe")
    level = stripe_logger.level
    if verbosity < 2:
        stripe_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        stripe_logger.setLevel(level)
