"""Access JWTs (contract §13.1) and the blacklist of revoked ones."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from config.errors import ServiceUnavailable, TokenExpired, TokenInvalid
from security.crypto import token_hash

logger = logging.getLogger("keel.accounts")
ALGORITHM = "HS256"
BLACKLIST_CACHE_PREFIX = "jwt:blacklisted:"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime
    expires_in: int


def issue_access_token(
    *, user: Any, session_id: int, original_user_id: int | None = None
) -> AccessToken:
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.ACCESS_TOKEN_EXPIRATION_MINUTES)
    if original_user_id is not None:
        lifetime = min(lifetime, timedelta(hours=1))
    claims: dict[str, Any] = {
        "user_id": user.pk,
        "email": user.email,
        "role": user.role,
        "sid": session_id,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    if original_user_id is not None:
        claims["original_user_id"] = original_user_id
    token = jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM)
    return AccessToken(token, now + lifetime, int(lifetime.total_seconds()))


def decode_access_token(token: str, *, check_blacklist: bool = True) -> dict[str, Any]:
    """Verified claims, or TokenExpired / TokenInvalid (bad signature, alg none, malformed,
    blacklisted)."""
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "user_id", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("Token has expired") from None
    except jwt.PyJWTError:
        raise TokenInvalid("Invalid token") from None
    if not isinstance(claims.get("user_id"), int):
        raise TokenInvalid("Invalid token")
    if check_blacklist and is_blacklisted(token):
        raise TokenInvalid("Token has been revoked")
    return claims


def peek_claims(token: str) -> dict[str, Any] | None:
    """Claims of a token with a valid signature, expired or not (logout of an expired token)."""
    try:
        return jwt.decode(
            token, settings.JWT_SECRET, algorithms=[ALGORITHM], options={"verify_exp": False}
        )
    except jwt.PyJWTError:
        return None


def is_blacklisted(token: str) -> bool:
    from accounts.models import TokenBlacklist

    digest = token_hash(token)
    if cache.get(BLACKLIST_CACHE_PREFIX + digest):
        return True
    try:
        return TokenBlacklist.objects.filter(token_hash=digest).exists()
    except DatabaseError:
        if settings.TOKEN_BLACKLIST_FAIL_MODE == "open":  # noqa: S105 - a mode, not a secret
            logger.warning("token blacklist unavailable; failing open", exc_info=True)
            return False
        raise ServiceUnavailable("Service temporarily unavailable") from None


def blacklist(token: str, *, reason: str, user_id: int | None = None) -> None:
    """Refuse this access token from now until it expires (database + cache)."""
    from accounts.models import TokenBlacklist

    claims = peek_claims(token)
    if claims is None:
        return  # not one of ours: nothing to revoke
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    remaining = int((expires_at - datetime.now(UTC)).total_seconds())
    if remaining <= 0:
        return
    digest = token_hash(token)
    TokenBlacklist.objects.get_or_create(
        token_hash=digest, defaults={"expires_at": expires_at, "reason": reason, "user_id": user_id}
    )
    cache.set(BLACKLIST_CACHE_PREFIX + digest, True, timeout=remaining)
