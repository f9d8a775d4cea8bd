"""Organization API keys as credentials (contract §4.4): `Authorization: Bearer keel_…` or
`X-API-Key: keel_…`. A key acts as a member of its own organization with its role, only on
that organization's routes; anywhere else it gets 404 (another org) or 403 (not org-scoped)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.auth.authentication import API_KEY_PREFIX, TokenFailed
from config import routes
from organizations.models import OrgAPIKey
from security.crypto import token_hash_candidates
from security.principal import Principal

KEY_CACHE_TTL = 60
LAST_USED_EVERY = timedelta(minutes=1)


def presented_api_key(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer " and header[7:].strip().startswith(API_KEY_PREFIX):
        return header[7:].strip()
    key = request.META.get("HTTP_X_API_KEY", "").strip()
    return key or None


def _cache_key(digest: str) -> str:
    return f"org:apikey:{digest}"


def api_key_lookup(raw: str) -> OrgAPIKey | None:
    """The key row for a presented key (through a short cache that revocation clears)."""
    if not raw.startswith(API_KEY_PREFIX) or len(raw) > 100:
        return None
    for digest in token_hash_candidates(raw):
        key = cache.get(_cache_key(digest))
        if key is None:
            key = (
                OrgAPIKey.objects.select_related("organization").filter(key_hash=digest).first()
            ) or False
            cache.set(_cache_key(digest), key, timeout=KEY_CACHE_TTL)
        if key:
            return key
    return None


def api_key_cache_clear(digest: str) -> None:
    cache.delete(_cache_key(digest))


def api_key_check(raw: str) -> OrgAPIKey:
    """A live key, or 401 TOKEN_INVALID (unknown, revoked, org gone) / TOKEN_EXPIRED."""
    key = api_key_lookup(raw)
    if key is None or key.revoked_at is not None or key.organization.deleted_at is not None:
        raise TokenFailed("TOKEN_INVALID", "Invalid API key")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise TokenFailed("TOKEN_EXPIRED", "API key has expired")
    return key


class APIKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, OrgAPIKey] | None:
        raw = presented_api_key(request._request)
        if raw is None:
            return None
        key = api_key_check(raw)
        slug = routes.org_slug(request._request.path)
        if slug is None:
            raise exceptions.PermissionDenied("API keys work only on their organization's routes")
        if slug != key.organization.slug:
            raise exceptions.NotFound("Organization not found")
        # last_used_at at most once a minute; a separate marker, so the key row itself is never
        # re-cached here (a revocation racing this request must stay visible).
        now = timezone.now()
        minute = int(now.timestamp() // LAST_USED_EVERY.total_seconds())
        if cache.add(f"org:apikey:used:{key.pk}:{minute}", 1, timeout=120):
            OrgAPIKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def api_key_principal(request: HttpRequest) -> Principal | None:
    """Rate limits and idempotency count per key."""
    raw = presented_api_key(request)
    if raw is None:
        return None
    key = api_key_lookup(raw)
    return Principal(key=f"apikey:{key.pk}", is_staff=False) if key else None
