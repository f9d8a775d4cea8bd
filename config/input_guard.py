"""What the database and the JSON encoder cannot take, refused once at the edge.

- NUL and lone surrogates (U+D800–U+DFFF outside a pair, e.g. JSON `"\\ud800"`) in strings and
  keys: PostgreSQL refuses NUL, and neither can be encoded as UTF-8, so a stored one breaks
  every later page or response that shows it;
- integers outside the signed 64-bit range (PostgreSQL `bigint`, SQLite `INTEGER`);
- non-finite numbers (`1e400` parses as infinity, which JSON cannot carry back).

`config.parsers` checks API bodies (JSON, form, multipart); `InputGuardMiddleware` checks path
parameters, query strings and the form posts of Keel's pages. A refusal names the field and
never echoes the value: 400 `VALIDATION_ERROR` on the API, the 400 page on pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from config.errors import ValidationFailed

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

BAD_CHARACTERS = "Contains characters that are not allowed"
BAD_KEY = "Contains a key with characters that are not allowed"
OUT_OF_RANGE = f"Ensure this number is between {INT64_MIN} and {INT64_MAX}"
NOT_FINITE = "Ensure this number is finite"

# Python's json module joins a valid surrogate pair into one character, so any code point left
# in this range is a lone surrogate.
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class InputProblem:
    field: str
    message: str
    code: str

    def as_error(self) -> ValidationFailed:
        return ValidationFailed.for_field(self.field, self.message, self.code)


def has_bad_characters(text: str) -> bool:
    return _BAD_CHARS.search(text) is not None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def check_data(value: Any, field: str = "body") -> InputProblem | None:
    """The first problem in parsed JSON (nested dicts and lists), or None.

    Fields are named as in the error envelope's `details`: `name`, `events[3].quantity`.
    """
    if isinstance(value, str):
        if _BAD_CHARS.search(value):
            return InputProblem(field, BAD_CHARACTERS, "invalid_characters")
        return None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return InputProblem(field, OUT_OF_RANGE, "out_of_range")
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return InputProblem(field, NOT_FINITE, "out_of_range")
        return None
    if isinstance(value, Mapping):
        prefix = "" if field == "body" else field
        for key, item in value.items():
            if isinstance(key, str) and _BAD_CHARS.search(key):
                return InputProblem(field, BAD_KEY, "invalid_characters")
            problem = check_data(item, _join(prefix, str(key)))
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = check_data(item, f"{field}[{index}]")
            if problem:
                return problem
    return None


def multi_items(data: Any) -> Iterable[tuple[str, str]]:
    """Every (key, value) of a QueryDict, repeated keys included (`?a=x&a=y`): a check of
    `.items()` would see only the last value of each key."""
    return ((key, value) for key, values in data.lists() for value in values)


def check_text_params(items: Iterable[tuple[str, str]], *, where: str) -> InputProblem | None:
    """Path parameters, query parameters or form fields: text, where integers are spelled out.

    `where` names the field of a refused key (`query`, `form`).
    """
    for key, text in items:
        if _BAD_CHARS.search(key):
            return InputProblem(where, BAD_KEY, "invalid_characters")
        problem = check_text(text, key)
        if problem:
            return problem
    return None


def check_text(text: str, field: str) -> InputProblem | None:
    if _BAD_CHARS.search(text):
        return InputProblem(field, BAD_CHARACTERS, "invalid_characters")
    # 20+ digits always overflow (and int() would refuse thousands of them); 19 may.
    if len(text) > 18 and _INTEGER_TEXT.fullmatch(text):
        digits = text.lstrip("+-")
        if len(digits) > 19 or not INT64_MIN <= int(text) <= INT64_MAX:
            return InputProblem(field, OUT_OF_RANGE, "out_of_range")
    return None


def check_path_kwargs(kwargs: Mapping[str, Any]) -> InputProblem | None:
    """URL parameters after the converters ran (`<int:id>` is already an int, of any size)."""
    for name, value in kwargs.items():
        problem = check_text(value, name) if isinstance(value, str) else check_data(value, name)
        if problem:
            return problem
    return None
