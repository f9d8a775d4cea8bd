"""Scheduled jobs of the accounts app (contract §14)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import TokenBlacklist, UserSession
from config.jobs import periodic


@periodic("cleanup_expired_sessions", hourly=True)
def cleanup_expired_sessions() -> int:
    """Delete sessions that expired, or were revoked more than 24 h ago."""
    now = timezone.now()
    deleted, _ = UserSession.objects.filter(
        Q(expires_at__lt=now) | Q(revoked_at__lt=now - timedelta(hours=24))
    ).delete()
    return deleted


@periodic("cleanup_token_blacklist", hourly=True)
def cleanup_token_blacklist() -> int:
    """Delete blacklist entries whose tokens have expired anyway."""
    deleted, _ = TokenBlacklist.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
