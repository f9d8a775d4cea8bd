"""System checks for Keel's own invariants."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string


@register(Tags.security, deploy=True)
def check_csrf_middleware(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Django's W003 is silenced because Keel's CSRF middleware subclasses Django's; prove it."""
    for path in settings.MIDDLEWARE:
        cls = import_string(path)
        if isinstance(cls, type) and issubclass(cls, CsrfViewMiddleware):
            return []
    return [
        Error(
            "No CSRF middleware installed.",
            hint="Add config.middleware.csrf.KeelCsrfMiddleware.",
            id="keel.E001",
        )
    ]
