"""Request parsers for the API: DRF's, plus the edge checks of `config.input_guard`.

Every parsed body is checked once, here, before any serializer or service sees it: NUL, lone
surrogates and out-of-range integers are a 400 naming the field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from config.input_guard import check_data, check_text_params, multi_items

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict  # the stubs' name for a read-only one


def _check_form(data: QueryDict) -> None:
    problem = check_text_params(multi_items(data), where="form")
    if problem:
        raise problem.as_error()


class JSONParser(parsers.JSONParser):
    """Absurdly nested JSON (`[[[[…`) is a 400, not a RecursionError and a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        try:
            problem = check_data(data)
        except RecursionError:  # json's C decoder nests deeper than Python recursion allows
            raise ParseError("JSON nested too deeply") from None
        if problem:
            raise problem.as_error()
        return data


class FormParser(parsers.FormParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> _ImmutableQueryDict:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> parsers.DataAndFiles:
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data)
        return result
