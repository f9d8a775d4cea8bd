"""Request-body limit at the ASGI edge.

Django's ASGI handler reads the whole body before any middleware runs, so a huge upload
would be buffered before `BodyLimitMiddleware` could refuse it. This wrapper answers
413 REQUEST_TOO_LARGE from `Content-Length` without reading the body, and stops reading a
body sent without one as soon as it passes the route's limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from config.context import sanitize_request_id
from config.errors import RequestTooLarge
from config.middleware.body_limit import body_limit_for

# The shapes Django's ASGIHandler accepts: a dict scope, messages read as mappings.
Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimitASGIMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return  # every method is limited: Django buffers any body before the view runs
        limit = body_limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        raw_length = headers.get(b"content-length")
        if raw_length is not None and raw_length.isdigit() and int(raw_length) > limit:
            await self._reject(send, headers, limit)
            return
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}  # Django stops reading and sends nothing
            return message

        await self.app(scope, limited_receive, send)
        if exceeded:
            await self._reject(send, headers, limit)

    @staticmethod
    async def _reject(send: Send, headers: dict[bytes, bytes], limit: int) -> None:
        request_id = sanitize_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        body = json.dumps(
            {
                "error": RequestTooLarge.code,
                "message": f"Request body too large (limit {limit // 1024} KiB)",
                "code": 413,
                "request_id": request_id,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
