"""WSGI entry point (HTTP only; use ASGI for WebSockets)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.shutdown import register_atexit  # noqa: E402  (after Django is set up)

register_atexit()
