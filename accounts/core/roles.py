"""Rules about global roles that several account layers share: the last super admin stays."""

from __future__ import annotations

from accounts.models import Role, User
from config.errors import BadRequest


def super_admins_lock() -> list[int]:
    """Lock the rows of every live, active super admin, in id order, before the target's row:
    concurrent removals of super admins then queue up instead of deadlocking."""
    return list(
        User.objects.select_for_update()
        .filter(role=Role.SUPER_ADMIN, is_active=True, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def last_super_admin_guard(target: User, super_admins: list[int], what: str) -> None:
    """Refuse to remove the last live, active super admin (`super_admins` from
    `super_admins_lock`, taken in the same transaction)."""
    if target.role == Role.SUPER_ADMIN and not [pk for pk in super_admins if pk != target.pk]:
        raise BadRequest(f"Cannot {what} the last super admin")
