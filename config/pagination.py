"""Query parameters (`int_param`, `bool_param`) and the contract's pagination styles (§0.8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def bool_param(request: Request, name: str) -> bool:
    """A boolean query flag (`?verbose=true`, `1`, `yes`, `on`; case-insensitive); anything
    else, or absent, is False."""
    return request.query_params.get(name, "").strip().lower() in TRUE_WORDS


def int_param(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter; missing, malformed or out of range gives `default`."""
    try:
        value = int(request.query_params.get(name, default))
    except (TypeError, ValueError):
        return default
    return value if minimum <= value <= maximum else default


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    total: int
    page: int
    limit: int

    @property
    def total_pages(self) -> int:
        return ceil(self.total / self.limit) if self.total else 0

    def as_dict(self, items_key: str, serialized: list[Any]) -> dict[str, Any]:
        return {
            items_key: serialized,
            "count": len(serialized),
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
            "total_pages": self.total_pages,
        }

    def render(self, items_key: str, serializer: type[BaseSerializer]) -> dict[str, Any]:
        """`as_dict` of the items as `serializer` renders them."""
        return self.as_dict(items_key, serializer(self.items, many=True).data)


def paginate_page(
    request: Request,
    queryset: QuerySet[Any] | Sequence[Any],
    *,
    default_limit: int = 20,
    max_limit: int = 100,
) -> Page:
    """`page`/`limit` style: page ≥ 1 (1), limit 1..max (default); out of range → default."""
    page = int_param(request, "page", 1, 1, 10**9)
    limit = int_param(request, "limit", default_limit, 1, max_limit)
    total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
    start = (page - 1) * limit
    return Page(items=list(queryset[start : start + limit]), total=total, page=page, limit=limit)


def paginate_offset(
    request: Request,
    queryset: QuerySet[Any] | Sequence[Any],
    *,
    default_limit: int = 10,
    max_limit: int = 100,
) -> list[Any]:
    """`limit`/`offset` style: returns the slice (the response is a bare array)."""
    limit = int_param(request, "limit", default_limit, 1, max_limit)
    offset = int_param(request, "offset", 0, 0, 10**12)
    return list(queryset[offset : offset + limit])
