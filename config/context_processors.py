from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def keel(request: HttpRequest) -> dict[str, Any]:
    """Values every page template can use."""
    return {
        "site_name": "Keel",
        "app_version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
        "request_id": getattr(request, "request_id", ""),
    }
