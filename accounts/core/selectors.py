"""Reads of the accounts app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import LoginHistory, User, UserSession, user_cache_key

if TYPE_CHECKING:
    from security.models import AuditLog

USER_CACHE_TTL = 60


def user_get_cached(user_id: int) -> User | None:
    """The user behind a token, reloaded per request from a short cache that every change to
    the user clears (User.save / user_cache_clear)."""
    user = cache.get(user_cache_key(user_id))
    if user is None:
        user = User.objects.filter(pk=user_id).first()
        if user is not None:
            cache.set(user_cache_key(user_id), user, timeout=USER_CACHE_TTL)
    return user


def session_list_active(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-last_active_at", "-id")


def login_history_list(*, user: User) -> QuerySet[LoginHistory]:
    return LoginHistory.objects.filter(user=user).order_by("-created_at", "-id")


def activity_list(*, user: User, limit: int) -> tuple[list[AuditLog], int]:
    """The user's own latest audit entries (newest first) and how many there are."""
    from security.models import AuditLog

    entries = AuditLog.objects.filter(actor=user).order_by("-created_at", "-id")
    return list(entries[:limit]), entries.count()
