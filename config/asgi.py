"""ASGI entry point: HTTP through Django's WSGI handler on a bounded thread pool (a2wsgi),
`/ws` through Channels, lifespan for the shutdown hooks.

Why not Django's ASGI handler for HTTP: Keel's views and middleware are synchronous, and under
the ASGI handler each request crossed between the event loop and threads several times (once
into the chain, again around the async core, again into the view), with a new thread per
request and so a database connection per thread. Served this way a request runs start to end
on one of WEB_THREADS threads, exactly as under a WSGI server and in the tests
(docs/performance.md has the measurements).
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_wsgi_app = get_wsgi_application()

# Imported after Django is set up (consumers import models).
from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from config.asgi_limits import BodyLimitASGIMiddleware, HeaderNamesASGIMiddleware  # noqa: E402
from config.consumers import EventsConsumer  # noqa: E402
from config.shutdown import LifespanMiddleware, register_atexit  # noqa: E402

websocket_urlpatterns = [path("ws", EventsConsumer.as_asgi())]

application = LifespanMiddleware(
    ProtocolTypeRouter(
        {
            "http": HeaderNamesASGIMiddleware(
                BodyLimitASGIMiddleware(
                    WSGIMiddleware(django_wsgi_app, workers=settings.WEB_THREADS)  # type: ignore[arg-type]
                )
            ),
            "websocket": SessionMiddlewareStack(URLRouter(websocket_urlpatterns)),
        }
    )
)
register_atexit()  # servers without the lifespan protocol
