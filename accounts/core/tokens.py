"""Access JWTs (contract §13.1) and the blacklist of revoked ones."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from accounts.models import TokenBlacklist
from config.errors import ServiceUnavailable, TokenExpired, TokenInvalid
from config.stamps import VersionStamp
from security.crypto import token_hash

logger = logging.getLogger("keel.accounts")
ALGORITHM = "HS256"
BLACKLIST_VERSION_KEY = "accounts:blacklist:version"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime
    expires_in: int


def issue_access_token(
    *,
    user: Any,
    session_id: int,
    original_user_id: int | None = None,
    lifetime: timedelta | None = None,
) -> AccessToken:
    """A signed access JWT. `lifetime` overrides ACCESS_TOKEN_EXPIRATION_MINUTES (the
    impersonation token lives 1 h, contract §13.8); impersonation tokens never exceed 1 h."""
    now = datetime.now(UTC)
    lifetime = lifetime or timedelta(minutes=settings.ACCESS_TOKEN_EXPIRATION_MINUTES)
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


@dataclass
class _Revoked:
    """This process's copy of the blacklist: hashes of revoked, unexpired access tokens (a
    small set: tokens live 15 minutes)."""

    version: str | None = None
    loaded_at: float = 0.0
    hashes: frozenset[str] = frozenset()


_revoked = _Revoked()
_stamp = VersionStamp(BLACKLIST_VERSION_KEY)
LOCAL_TTL = 5.0


def _revoked_hashes() -> frozenset[str] | None:
    """The current set, reloaded when another process revoked a token (shared cache) or after
    LOCAL_TTL seconds. None when the shared cache cannot be read: ask the database."""
    global _revoked
    version = _stamp.current()
    if version is None:
        return None
    copy = _revoked
    if copy.version != version or time.monotonic() - copy.loaded_at > LOCAL_TTL:
        hashes = TokenBlacklist.objects.filter(expires_at__gt=timezone.now()).values_list(
            "token_hash", flat=True
        )
        copy = _revoked = _Revoked(version, time.monotonic(), frozenset(hashes))
    return copy.hashes


def is_blacklisted(token: str) -> bool:
    """Whether the token was revoked (logout, password reset). Answered from the process's copy
    of the blacklist; a database error fails closed (503) unless TOKEN_BLACKLIST_FAIL_MODE=open."""

    digest = token_hash(token)
    try:
        hashes = _revoked_hashes()
        if hashes is not None:
            return digest in hashes
        return TokenBlacklist.objects.filter(token_hash=digest).exists()
    except DatabaseError:
        if settings.TOKEN_BLACKLIST_FAIL_MODE == "open":  # noqa: S105 - a mode, not a secret
            logger.warning("token blacklist unavailable; failing open", exc_info=True)
            return False
        raise ServiceUnavailable("Service temporarily unavailable") from None


def reset_local() -> None:
    global _revoked
    _revoked = _Revoked()


def blacklist(token: str, *, reason: str, user_id: int | None = None) -> None:
    """Refuse this access token from now until it expires (database + cache)."""

    claims = peek_claims(token)
    if claims is None:
        return  # not one of ours: nothing to revoke
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    remaining = int((expires_at - datetime.now(UTC)).total_seconds())
    if remaining <= 0:
        return
    TokenBlacklist.objects.get_or_create(
        token_hash=token_hash(token),
        defaults={"expires_at": expires_at, "reason": reason, "user_id": user_id},
    )
    _stamp.bump(on_reset=reset_local)
