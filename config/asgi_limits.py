"""The HTTP edge, in front of the WSGI bridge (config/asgi.py).

- `BodyLimitASGIMiddleware`: 413 REQUEST_TOO_LARGE from `Content-Length` without reading the
  body; a chunked body (no `Content-Length`) is read here up to the route's limit — 413 past
  it — and handed on with its length, since a WSGI application reads only a declared length.
- `HeaderNamesASGIMiddleware`: drops request headers whose names hold an underscore. WSGI
  spells `X-Forwarded-For` and `X_Forwarded_For` alike (`HTTP_X_FORWARDED_FOR`), so a client
  could smuggle a forwarded-for or forwarded-proto value past a proxy that only sets the
  dashed one; Django's ASGI handler dropped such headers, and so does this.
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


DRAIN_BYTES = 16 * 1024 * 1024


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
        if raw_length is None and b"transfer-encoding" in headers:
            await self._chunked(scope, receive, send, headers, limit)
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

    async def _chunked(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], limit: int
    ) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                drained = await self._drain(receive, message)
                await self._reject(send, headers, limit, close=not drained)
                return
            chunks.append(body)
            if not message.get("more_body"):
                break
        data = b"".join(chunks)
        scope = {
            **scope,
            "headers": [
                *(
                    h
                    for h in scope["headers"]
                    if h[0] not in (b"transfer-encoding", b"content-length")
                ),
                (b"content-length", str(len(data)).encode()),
            ],
        }
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, message: Message) -> bool:
        """Read and drop the rest of a refused body, up to DRAIN_BYTES: a client that is still
        sending then reads the 413 instead of a reset connection. True when it all came in."""
        drained = 0
        while message.get("more_body"):
            if drained >= DRAIN_BYTES:
                return False
            message = await receive()
            if message["type"] != "http.request":
                return False
            drained += len(message.get("body", b""))
        return True

    @staticmethod
    async def _reject(
        send: Send, headers: dict[bytes, bytes], limit: int, *, close: bool = True
    ) -> None:
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
                    *([(b"connection", b"close")] if close else []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class HeaderNamesASGIMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(b"_" in name for name, _ in scope["headers"]):
            scope = {**scope, "headers": [h for h in scope["headers"] if b"_" not in h[0]]}
        await self.app(scope, receive, send)
