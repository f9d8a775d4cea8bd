"""Who is on the other end of a WebSocket. Authenticators are tried in order
(settings.WS_AUTHENTICATORS); the first that recognises a credential wins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.auth import get_user
from django.conf import settings
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


async def session_authenticator(scope: dict[str, Any]) -> SocketIdentity | None:
    """A Django session cookie (page sign-in)."""
    if "session" not in scope:
        return None
    user = await get_user(scope)
    if not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "deleted_at", None) is not None or not user.is_active:
        raise SocketAuthError("ACCOUNT_INACTIVE", "Account is inactive")
    session_key = scope["session"].session_key
    return SocketIdentity(user=user, session_id=f"django-{session_key}" if session_key else None)


async def authenticate_socket(scope: dict[str, Any]) -> SocketIdentity | None:
    for path in settings.WS_AUTHENTICATORS:
        identity = await import_string(path)(scope)
        if identity is not None:
            return identity
    return None
