"""Who is on the other end of a WebSocket. Authenticators are tried in order
(settings.WS_AUTHENTICATORS); the first that recognises a credential wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SocketIdentity:
    user: Any
    session_id: str | None = None


class SocketAuthError(Exception):
    """A credential was presented but is not acceptable (expired, revoked, inactive)."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _refusal(user: Any) -> SocketAuthError | None:
    """Contract §0.3: deleted → UNAUTHORIZED, deactivated → ACCOUNT_INACTIVE."""
    if getattr(user, "deleted_at", None) is not None:
        return SocketAuthError("UNAUTHORIZED", "Authentication required")
    if not user.is_active:
        return SocketAuthError("ACCOUNT_INACTIVE", "Account is inactive")
    return None


@database_sync_to_async
def _refusal_for_hidden_session_user(session: Any) -> SocketAuthError | None:
    """The auth backend hides inactive users (`get_user` answers anonymous), which would make a
    deactivated account look signed out; look the session's user up to tell the two apart."""
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return None
    model = get_user_model()
    try:
        user = model._default_manager.get(pk=model._meta.pk.to_python(user_id))
    except (model.DoesNotExist, ValidationError):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return None  # a stale sign-in (password changed since): simply not authenticated
    return _refusal(user)


async def session_authenticator(scope: dict[str, Any]) -> SocketIdentity | None:
    """A Django session cookie (page sign-in)."""
    if "session" not in scope:
        return None
    user = await get_user(scope)
    if not getattr(user, "is_authenticated", False):
        refusal = await _refusal_for_hidden_session_user(scope["session"])
        if refusal is not None:
            raise refusal
        return None
    refusal = _refusal(user)
    if refusal is not None:
        raise refusal
    session_key = scope["session"].session_key
    return SocketIdentity(user=user, session_id=f"django-{session_key}" if session_key else None)


async def authenticate_socket(scope: dict[str, Any]) -> SocketIdentity | None:
    for path in settings.WS_AUTHENTICATORS:
        identity = await import_string(path)(scope)
        if identity is not None:
            return identity
    return None
