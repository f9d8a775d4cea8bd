"""The edge check of `config.input_guard` for what DRF's parsers do not see: path parameters and
query strings of every route, and the form posts of Keel's pages (API bodies are checked by
`config.parsers`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import exception_to_response, is_api_path
from config.input_guard import InputProblem, check_path_kwargs, check_text_params, multi_items
from config.middleware.base import Middleware

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputGuardMiddleware(Middleware):
    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        problem = check_path_kwargs(view_kwargs) or check_text_params(
            multi_items(request.GET), where="query"
        )
        api = is_api_path(request.path)
        if problem is None and not api and request.content_type in FORM_TYPES:
            problem = check_text_params(multi_items(request.POST), where="form")
        if problem is None:
            return None
        if api:
            return exception_to_response(problem.as_error(), request)
        return _page(request, problem)


def _page(request: HttpRequest, problem: InputProblem) -> HttpResponse:
    return render(
        request, "errors/400.html", {"field": problem.field, "reason": problem.message}, status=400
    )
