"""Every API route. Mounted at /api/v1 (canonical) and /api (alias) by config.urls.

Each app contributes its own `urls.py`; keep this list in the order of the contract.
"""

from __future__ import annotations

from django.urls import include, path, re_path

from config.views import APINotFoundView, CsrfTokenView, HealthView, LiveView, ReadyView

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadyView.as_view(), name="health-ready"),
    path("health/live", LiveView.as_view(), name="health-live"),
    path("csrf-token", CsrfTokenView.as_view(), name="csrf-token"),
    path("", include("accounts.urls")),
    path("", include("organizations.urls")),
    path("", include("billing.urls")),
    path("", include("usage.urls")),
    path("", include("security.urls")),
    # Keep last: anything else under /api is a JSON 404 (no slash redirects, no HTML).
    re_path(r"^.*$", APINotFoundView.as_view(), name="not-found"),
]
