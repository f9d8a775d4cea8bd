from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.auth.sessions import RequestMeta, session_create
from accounts.core.tasks import cleanup_expired_sessions, cleanup_token_blacklist
from accounts.models import TokenBlacklist, UserSession
from config.jobs import SCHEDULES, autodiscover

pytestmark = pytest.mark.django_db
META = RequestMeta(ip="127.0.0.1", user_agent="")


def test_cleanup_removes_expired_and_long_revoked_sessions(alice):
    live, expired, revoked_old, revoked_new = (
        session_create(user=alice, meta=META, method="password").session for _ in range(4)
    )
    UserSession.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    UserSession.objects.filter(pk=revoked_old.pk).update(
        revoked_at=timezone.now() - timedelta(hours=25)
    )
    UserSession.objects.filter(pk=revoked_new.pk).update(
        revoked_at=timezone.now() - timedelta(hours=1)
    )
    assert cleanup_expired_sessions() >= 2
    assert set(UserSession.objects.values_list("pk", flat=True)) == {live.pk, revoked_new.pk}


def test_cleanup_removes_expired_blacklist_entries(alice):
    TokenBlacklist.objects.create(
        token_hash="a" * 64, expires_at=timezone.now() - timedelta(seconds=1)
    )
    TokenBlacklist.objects.create(
        token_hash="b" * 64, expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert cleanup_token_blacklist() == 1
    assert list(TokenBlacklist.objects.values_list("token_hash", flat=True)) == ["b" * 64]


def test_the_cleanups_are_scheduled_hourly():
    autodiscover()
    assert (
        SCHEDULES["cleanup_expired_sessions"].hourly and SCHEDULES["cleanup_token_blacklist"].hourly
    )
