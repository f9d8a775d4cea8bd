"""The contract's success shapes (§0.6): E `{success, message, data}`, A `{success, message}`."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

_NO_DATA = object()


def envelope(message: str, data: Any = _NO_DATA, *, status: int = 200) -> Response:
    body: dict[str, Any] = {"success": True, "message": message}
    if data is not _NO_DATA:
        body["data"] = data
    return Response(body, status=status)
