"""WebSocket authentication by access token: `auth_token` cookie, else `Authorization: Bearer`,
else `?token=` (contract §12). Blacklist and `is_active` are checked."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from accounts.auth.authentication import ACCESS_COOKIE, API_KEY_PREFIX, TokenFailed, user_for_claims
from accounts.core.tokens import decode_access_token
from config.errors import DomainError
from config.ws_auth import SocketAuthError, SocketIdentity


def _socket_token(scope: dict[str, Any]) -> str | None:
    headers = dict(scope.get("headers") or [])
    cookie_header = headers.get(b"cookie", b"").decode("latin-1")
    if cookie_header:
        jar = SimpleCookie()
        jar.load(cookie_header)
        if ACCESS_COOKIE in jar and jar[ACCESS_COOKIE].value:
            return jar[ACCESS_COOKIE].value
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer " and not auth[7:].strip().startswith(API_KEY_PREFIX):
        return auth[7:].strip() or None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [None])[0]


def _identify(token: str) -> SocketIdentity:
    try:
        claims = decode_access_token(token)
        user = user_for_claims(claims)
    except DomainError as exc:
        raise SocketAuthError(exc.code, exc.message) from None
    except TokenFailed as exc:
        raise SocketAuthError(exc.keel_code, str(exc.detail)) from None
    return SocketIdentity(user=user, session_id=str(claims["sid"]))


async def jwt_authenticator(scope: dict[str, Any]) -> SocketIdentity | None:
    token = _socket_token(scope)
    if token is None:
        return None
    return await database_sync_to_async(_identify)(token)
