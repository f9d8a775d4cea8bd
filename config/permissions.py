"""Staff permissions for the API views of every app (contract §0.3: Staff, SA).

The roles are Django's flags (`is_staff` = admin or super admin, `is_superuser` = super admin,
contract §15), so config needs no domain app. Domains add rules through
`settings.STAFF_ACCESS_CHECKS`: callables `(user) -> StaffRefusal | None`; accounts adds the
`require_2fa_for_admins` rule (§11). The same checks guard the Django admin
(`config.admin_site`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from config.errors import Forbidden


@dataclass(frozen=True)
class StaffRefusal:
    """Why a staff member may not use staff tools now, and where to fix it (for pages)."""

    message: str
    action_url: str = ""
    action_label: str = ""


class StaffCheck(Protocol):
    def __call__(self, user: Any) -> StaffRefusal | None: ...


@cache
def _checks() -> tuple[StaffCheck, ...]:
    return tuple(import_string(path) for path in settings.STAFF_ACCESS_CHECKS)


def staff_refusal(user: Any) -> StaffRefusal | None:
    """The first refusal of `settings.STAFF_ACCESS_CHECKS` for this staff member, if any."""
    for check in _checks():
        refusal = check(user)
        if refusal is not None:
            return refusal
    return None


def _allowed(request: Request, *, superuser: bool) -> bool:
    user = request.user
    if not (user and user.is_authenticated and user.is_staff):
        return False
    if superuser and not user.is_superuser:
        return False
    refusal = staff_refusal(user)
    if refusal is not None:
        raise Forbidden(refusal.message)
    return True


class IsStaff(BasePermission):
    """admin or super_admin."""

    message = "Staff access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return _allowed(request, superuser=False)


class IsSuperAdmin(BasePermission):
    message = "Super admin access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return _allowed(request, superuser=True)
