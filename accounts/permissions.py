"""Global-role permissions for API views (contract §0.3: Staff, SA)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import Role


class IsStaff(BasePermission):
    """admin or super_admin."""

    message = "Staff access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role in (Role.ADMIN, Role.SUPER_ADMIN))


class IsSuperAdmin(BasePermission):
    message = "Super admin access required"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.SUPER_ADMIN)
