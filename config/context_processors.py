from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from config.site import site_context


def keel(request: HttpRequest) -> dict[str, Any]:
    """Values every page template can use: the site settings (name, logo, description, support
    link) and the running build."""
    return {
        **site_context(),
        "app_version": settings.VERSION,
        "environment": settings.ENVIRONMENT,
        "request_id": getattr(request, "request_id", ""),
    }
