"""Serving the Stripe fake over HTTP on a thread (tests) or in the foreground (a person)."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve(app: Any, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingServer, str]:
    """A started server (port 0: any free one) and its base URL; `server.shutdown()` stops it."""
    server = make_server(host, port, app, server_class=ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"
