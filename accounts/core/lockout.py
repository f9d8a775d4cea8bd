"""Lockout (contract §13.3): the 429 `ACCOUNT_LOCKED` answer of a locked account, shared by
password sign-in and the second factor."""

from __future__ import annotations

import math
from datetime import datetime

from django.utils import timezone

from config.errors import DomainError


class AccountLocked(DomainError):
    status = 429
    code = "ACCOUNT_LOCKED"


def locked_error(until: datetime) -> AccountLocked:
    seconds = max(1, int((until - timezone.now()).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    return AccountLocked(
        "Account is temporarily locked due to too many failed login attempts. "
        f"Try again in {minutes} minutes",
        retry_after=seconds,
    )
