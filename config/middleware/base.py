from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

GetResponse = Callable[[HttpRequest], HttpResponse]


class Middleware:
    """Minimal sync middleware base: subclasses implement `__call__`."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
