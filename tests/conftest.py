"""Shared fixtures: the cast, clients, and a clean cache per test.

The cast (as in healthchecks' tests):
- `alice` owns the org `acme`; `bob` is a member of `acme`; `charlie` is an outsider with his
  own org `globex`.
- `staff` is a global admin; `superadmin` is a super admin.
Everyone's password is `tests.factories.DEFAULT_PASSWORD`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Role, User
from organizations.models import Organization, OrgRole
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.realtime_capture import committed, realtime  # noqa: F401 (shared fixtures)
from tests.stripe_sandbox import Sandbox, sandbox_running


@pytest.fixture(autouse=True)
def _isolated_cache() -> Iterator[None]:
    """Each test starts with an empty cache and no per-process copies of settings/blocklist."""
    from accounts.core import tokens
    from security import blocklist, counters, system_settings
    from usage import buffer

    def reset() -> None:
        if hasattr(cache, "delete_pattern"):  # Redis: only Keel's keys, not the channel layer's
            cache.delete_pattern("*")
        else:
            cache.clear()
        system_settings.invalidate_local()
        blocklist.reset_local()
        tokens.reset_local()
        blocklist.discard_pending_hits()
        counters.reset_local()
        buffer.buffer_discard()

    reset()
    yield
    reset()


@pytest.fixture(autouse=True)
def _jobs_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enqueued jobs run synchronously (after commit) in tests (django-q2 reads `sync` once)."""
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_and_redis() -> None:
    """For tests whose processes must share a database and Redis: skipped without them, except
    in CI (CI=true), where that is a failure. Session-scoped, so that it is decided before the
    module fixtures that start servers."""
    if os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith(
        ("postgres://", "postgresql://")
    ):
        return
    reason = "needs REDIS_URL and a PostgreSQL DATABASE_URL (processes must share both)"
    if in_ci():
        pytest.fail(f"cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def alice(db: None) -> User:
    return UserFactory(email="alice@example.com", name="Alice Owner")


@pytest.fixture
def bob(db: None) -> User:
    return UserFactory(email="bob@example.com", name="Bob Member")


@pytest.fixture
def charlie(db: None) -> User:
    return UserFactory(email="charlie@example.com", name="Charlie Outsider")


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory(email="staff@example.com", name="Stella Staff", role=Role.ADMIN)


@pytest.fixture
def superadmin(db: None) -> User:
    return UserFactory(email="root@example.com", name="Sam Super", role=Role.SUPER_ADMIN)


@pytest.fixture
def acme(alice: User, bob: User) -> Organization:
    org = OrganizationFactory(name="Acme", slug="acme", created_by=alice)
    MembershipFactory(organization=org, user=alice, role=OrgRole.OWNER)
    MembershipFactory(organization=org, user=bob, role=OrgRole.MEMBER)
    return org


@pytest.fixture
def globex(charlie: User) -> Organization:
    org = OrganizationFactory(name="Globex", slug="globex", created_by=charlie)
    MembershipFactory(organization=org, user=charlie, role=OrgRole.OWNER)
    return org


@pytest.fixture
def api() -> APIClient:
    """An anonymous API client (CSRF checks off, as for token clients)."""
    return APIClient()


@pytest.fixture
def as_user(api: APIClient) -> Callable[[User], APIClient]:
    """`as_user(user)`: the API client, signed in as that user (DRF's force_authenticate)."""

    def sign_in(user: User) -> APIClient:
        api.force_authenticate(user)
        return api

    return sign_in


@pytest.fixture
def csrf_api() -> APIClient:
    """An API client that enforces CSRF like a browser would meet it."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def sandbox(settings: Any, db: None) -> Iterator[Sandbox]:
    """Billing on, against a fresh Stripe fake with a Pro and an Enterprise price, synced."""
    with sandbox_running(settings) as box:
        yield box
