"""Who a request is, before DRF authenticates it.

Used by per-principal rate limits, idempotency scopes and the maintenance switch. Resolvers
in settings.PRINCIPAL_RESOLVERS are tried in order (accounts/organizations add JWT and
API-key resolvers in front of the session one); they must be cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Principal:
    key: str  # "user:<id>" or "apikey:<id>"
    is_staff: bool = False


def session_principal(request: HttpRequest) -> Principal | None:
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return None  # no session: do not load one just to learn that
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Principal(key=f"user:{user.pk}", is_staff=bool(user.is_staff))
    return None


def request_principal(request: HttpRequest) -> Principal | None:
    cached = getattr(request, "_keel_principal", False)  # False: not resolved yet
    if cached is None or isinstance(cached, Principal):
        return cached
    principal = None
    for path in settings.PRINCIPAL_RESOLVERS:
        principal = import_string(path)(request)
        if principal is not None:
            break
    request._keel_principal = principal  # type: ignore[attr-defined]  # Keel's own request attribute
    return principal
