"""Template filters of the billing pages and of the organization pages' seat counts
(`{% load billing_tags %}`). From the plan catalogue only: no query."""

from __future__ import annotations

from typing import Any

from django import template

from billing import plans

register = template.Library()


@register.filter
def plan_seat_limit(organization: Any) -> int:
    """The seats of the organization's plan (0 = unlimited)."""
    return plans.seat_limit(str(getattr(organization, "plan", "") or ""))
