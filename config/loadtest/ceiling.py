"""The ceiling of `make loadtest`: the smallest Django ASGI application that answers a JSON body
comparable to Keel's `GET /auth/me` (same envelope, a user of the same size).

No apps, no middleware, no database: one URL, one sync view, `JsonResponse`. It runs under the
same server, flags and worker count as Keel, so the ratio of the two is what Keel's own request
path costs. Served as `uvicorn config.loadtest.ceiling:application`.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="loadtest-ceiling-has-no-secrets-to-keep-0123456789",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()

from django.core.asgi import get_asgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import re_path

BODY: dict[str, Any] = {
    "success": True,
    "message": "User retrieved successfully",
    "data": {
        "id": 1,
        "email": "load@keel.test",
        "name": "Load Test",
        "role": "user",
        "email_verified": True,
        "two_factor_enabled": False,
        "avatar_url": None,
        "bio": "",
        "location": "",
        "website": "",
        "created_at": "2026-12-06T12:00:00Z",
        "updated_at": "2026-12-06T12:00:00Z",
    },
}


MEMBERS: dict[str, Any] = {
    "success": True,
    "message": "Members retrieved successfully",
    "data": [
        {
            "id": n,
            "user_id": n,
            "email": f"member{n:04d}@loadtest.keel",
            "name": f"Member {n:04d}",
            "role": "member",
            "status": "active",
            "joined_at": "2026-12-06T12:00:00Z",
        }
        for n in range(1, 1001)
    ],
}


def user_view(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse(BODY)


def members_view(request: HttpRequest) -> JsonResponse:
    """The ceiling of the 1,000-member list: a body of the same size, serialized per request."""
    return JsonResponse(MEMBERS)


urlpatterns = [re_path(r"^members$", members_view), re_path(r"^(?P<rest>.*)$", user_view)]
application = get_asgi_application()
