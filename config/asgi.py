"""ASGI entry point: HTTP through Django, `/ws` through Channels, lifespan for shutdown hooks."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up (consumers import models).
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.urls import path  # noqa: E402

from config.asgi_limits import BodyLimitASGIMiddleware  # noqa: E402
from config.consumers import EventsConsumer  # noqa: E402
from config.shutdown import LifespanMiddleware, register_atexit  # noqa: E402

websocket_urlpatterns = [path("ws", EventsConsumer.as_asgi())]

application = LifespanMiddleware(
    ProtocolTypeRouter(
        {
            "http": BodyLimitASGIMiddleware(django_asgi_app),
            "websocket": SessionMiddlewareStack(URLRouter(websocket_urlpatterns)),
        }
    )
)
register_atexit()  # servers without the lifespan protocol
