"""What a web process does when it stops: the callables of `settings.SHUTDOWN_HOOKS` (write what
is still only in memory, such as the blocklist's hit counts).

uvicorn runs them at the ASGI lifespan shutdown, after the last request (`LifespanMiddleware`;
`manage.py serve` starts uvicorn with `--lifespan on`). uvicorn then re-raises the stopping
signal, so `atexit` would not run there; `atexit` covers the other servers (WSGI, runserver).
Hooks must be safe to run twice and must not need a request.
"""

from __future__ import annotations

import atexit
import logging
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from config.asgi_limits import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("keel.shutdown")


def run_shutdown_hooks() -> None:
    """Run every hook; one failing does not stop the others."""
    for path in settings.SHUTDOWN_HOOKS:
        try:
            import_string(path)()
        except Exception:
            logger.exception("shutdown hook failed", extra={"hook": path})
    connections.close_all()


def register_atexit() -> None:
    atexit.unregister(run_shutdown_hooks)  # once per process, however often it is called
    atexit.register(run_shutdown_hooks)


class LifespanMiddleware:
    """Answers the ASGI lifespan protocol (Django and Channels do not) and runs the shutdown
    hooks when the server stops; every other scope goes to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await sync_to_async(run_shutdown_hooks)()
                await send({"type": "lifespan.shutdown.complete"})
                return
