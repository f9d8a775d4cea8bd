"""Template context of the organizations app: the org switcher in the header (base.html includes
templates/organizations/_switcher.html)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest
from django.utils.functional import cached_property

from organizations import selectors

logger = logging.getLogger("keel.organizations")


@dataclass(frozen=True)
class SwitcherEntry:
    name: str
    slug: str
    role: str
    is_current: bool


class OrgSwitcher:
    """The signed-in user's organizations and the current one, read only when a template uses
    them. The current org is the one of the page being shown (`/org/<slug>/…`), else the one
    the user last selected (services.organization_select)."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def _page_slug(self) -> str | None:
        match = getattr(self._request, "resolver_match", None)
        if match is None or not (match.url_name or "").startswith("org_"):
            return None
        return match.kwargs.get("slug")

    @cached_property
    def organizations(self) -> list[SwitcherEntry]:
        user = self._request.user
        try:
            pairs = selectors.organization_list_for_user(user=user)
            current_slug = self._page_slug()
            if current_slug not in {org.slug for org, _ in pairs} and pairs:
                found = selectors.organization_current(user=user)
                current_slug = found[0].slug if found else None
        except DatabaseError:  # error pages must render without the database
            logger.warning("org switcher: database unavailable", exc_info=True)
            return []
        return [
            SwitcherEntry(org.name, org.slug, role, is_current=org.slug == current_slug)
            for org, role in pairs
        ]

    @property
    def current(self) -> SwitcherEntry | None:
        return next((entry for entry in self.organizations if entry.is_current), None)


def org_switcher(request: HttpRequest) -> dict[str, Any]:
    """`org_switcher` (an OrgSwitcher) for signed-in users; nothing otherwise."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"org_switcher": OrgSwitcher(request)}
