"""Template context of the billing app: the "Payment failed" banner of the layout
(templates/base.html) while the signed-in user's personal subscription is past due, or, on an
organization's pages (`/org/<slug>/…`), while that organization's subscription is.

Read only when a template uses it, and then in one query (two on an organization's page);
nothing for anonymous visitors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property

from billing import pages_data
from organizations.models import OrgRole

logger = logging.getLogger("keel.billing")


@dataclass(frozen=True)
class BillingAlert:
    scope: str  # "personal" | "organization"
    message: str
    url: str | None  # the billing page that fixes it (None: the user cannot)
    link_label: str


class BillingAlerts:
    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def _page_slug(self) -> str | None:
        match = getattr(self._request, "resolver_match", None)
        if match is None or not (match.url_name or "").startswith("org_"):
            return None
        slug = match.kwargs.get("slug")
        return str(slug) if slug else None

    @cached_property
    def items(self) -> list[BillingAlert]:
        user = self._request.user
        if not user.is_authenticated:
            return []
        alerts: list[BillingAlert] = []
        try:
            slug = self._page_slug()
            if slug is not None:
                past_due, role = pages_data.organization_past_due(slug, user.pk)
                if past_due:
                    admin = role in (OrgRole.OWNER, OrgRole.ADMIN)
                    alerts.append(
                        BillingAlert(
                            scope="organization",
                            message="Payment failed for this organization — update your "
                            "payment method"
                            if role == OrgRole.OWNER
                            else "Payment failed for this organization — an owner needs to "
                            "update the payment method",
                            url=reverse("org_billing", args=[slug]) if admin else None,
                            link_label="Open billing",
                        )
                    )
            if pages_data.personal_past_due(user.pk):
                alerts.append(
                    BillingAlert(
                        scope="personal",
                        message="Payment failed — update your payment method",
                        url=reverse("billing"),
                        link_label="Update payment method",
                    )
                )
        except DatabaseError:  # error pages must render without the database
            logger.warning("billing banner: database unavailable", exc_info=True)
            return []
        return alerts


def billing_alerts(request: HttpRequest) -> dict[str, Any]:
    """`billing_alerts.items`: the banners to show (evaluated lazily by the template)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"billing_alerts": BillingAlerts(request)}
