"""The request of a signed-in user, for the type checker.

A view that only signed-in users reach (DRF's `IsAuthenticated`, Django's `login_required`)
annotates its request with one of these, so that `request.user` is a Keel `User` and not
`User | AnonymousUser`. They are types only: DRF and Django build the requests, and these
classes add no behaviour and check nothing at runtime.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedRequest(Request):
    """A DRF request past `IsAuthenticated` (a session, an access JWT; not an org API key)."""

    user: User


class AuthenticatedHttpRequest(HttpRequest):
    """A page request past `login_required`."""

    user: User


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request only signed-in users reach, where the request's type
    cannot say so: a ModelAdmin method takes any HttpRequest, but the admin site lets only
    active staff in. Type-only, like the classes above: nothing is checked at runtime."""
    return cast(User, request.user)
