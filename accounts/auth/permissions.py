"""Accounts' rule for staff tools (contract §11): with `require_2fa_for_admins` on, staff
without 2FA get 403 on staff API routes and in the Django admin. It joins
`settings.STAFF_ACCESS_CHECKS`; the permission classes themselves live in `config.permissions`
(re-exported here for the accounts views)."""

from __future__ import annotations

from typing import Any

from accounts.auth.two_factor import two_factor_enabled
from config.permissions import IsStaff, IsSuperAdmin, StaffRefusal

__all__ = ["ADMIN_2FA_MESSAGE", "IsStaff", "IsSuperAdmin", "two_factor_required"]

ADMIN_2FA_MESSAGE = "Two-factor authentication must be enabled for admin access"


def two_factor_required(user: Any) -> StaffRefusal | None:
    """A refusal when staff must enrol in 2FA before using staff tools."""
    from security.system_settings import get_setting

    if user.is_staff and get_setting("require_2fa_for_admins") and not two_factor_enabled(user):
        return StaffRefusal(
            ADMIN_2FA_MESSAGE,
            action_url="/settings/security/",
            action_label="Set up two-factor authentication",
        )
    return None
