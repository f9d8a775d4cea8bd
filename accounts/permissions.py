"""Global-role permissions for API views (contract §0.3: Staff, SA), with the
`require_2fa_for_admins` rule (§11): staff without 2FA get 403 on staff routes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Role, User
from config.errors import Forbidden

ADMIN_2FA_MESSAGE = "Two-factor authentication must be enabled for admin access"


def staff_2fa_missing(user: User) -> bool:
    """True when staff must enrol in 2FA before using staff tools."""
    from accounts.two_factor import two_factor_enabled
    from security.system_settings import get_setting

    return (
        user.is_staff
        and bool(get_setting("require_2fa_for_admins"))
        and not two_factor_enabled(user)
    )


def _staff_with(request: Request, roles: tuple[str, ...]) -> bool:
    user = request.user
    if not (user and user.is_authenticated and user.role in roles):
        return False
    if staff_2fa_missing(user):
        raise Forbidden(ADMIN_2FA_MESSAGE)
    return True


class IsStaff(BasePermission):
    """admin or super_admin."""

    message = "Staff access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return _staff_with(request, (Role.ADMIN, Role.SUPER_ADMIN))


class IsSuperAdmin(BasePermission):
    message = "Super admin access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        return _staff_with(request, (Role.SUPER_ADMIN,))
