"""What staff do to accounts (contract §3.2, §11, §13.8): list and find users, create, edit,
soft-delete and restore them, change roles, deactivate and reactivate, impersonate; plus the
Django admin's actions (unlock, sign out everywhere, resend verification, block the last IP).

Selectors return querysets; services are keyword-only, atomic, and audit and publish in one
place. Every service takes the acting user (`actor`) and applies the role rules itself, so the
API, the Django admin and `manage.py create_user` cannot differ:

- Staff = admin or super_admin; SA = super_admin.
- Only a super admin acts on a super admin (edit, delete, deactivate, role, ...) and grants or
  revokes the admin and super_admin roles.
- Nobody changes their own role or deactivates themselves, and the last live, active
  super admin can never be deleted, deactivated or demoted.

`actor=None` means an operator at the console (`manage.py create_user`): it may do what a
super admin may do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts import lifecycle
from accounts.auth import services, sessions, verification
from accounts.core.roles import last_super_admin_guard, super_admins_lock
from accounts.core.tokens import AccessToken, blacklist, issue_access_token
from accounts.models import STAFF_ROLES, AuthMethod, Role, User, UserSession
from accounts.profile.services import user_profile_update
from config import realtime
from config.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from security.services import audit_record, ip_block_create

IMPERSONATION_LIFETIME = timedelta(hours=1)
ROLE_CHOICES_MESSAGE = "Must be one of: " + ", ".join(Role.values)


# --- Rules ------------------------------------------------------------------------------------


def _is_super_admin(actor: User | None) -> bool:
    return actor is None or actor.role == Role.SUPER_ADMIN


def _require_staff(actor: User | None) -> None:
    if actor is not None and actor.role not in STAFF_ROLES:
        raise Forbidden("Staff access required")


def _require_super_admin(actor: User | None) -> None:
    if not _is_super_admin(actor):
        raise Forbidden("Super admin access required")


def _require_may_manage(actor: User | None, target: User, verb: str) -> None:
    """Only a super admin acts on a super admin."""
    if target.role == Role.SUPER_ADMIN and not _is_super_admin(actor):
        raise Forbidden(f"Only a super admin can {verb} a super admin")


def _role_checked(role: str) -> str:
    if role not in Role.values:
        raise ValidationFailed.for_field("role", ROLE_CHOICES_MESSAGE, code="invalid_choice")
    return role


def _live_locked(user_id: int) -> User:
    user = User.objects.select_for_update().filter(pk=user_id, deleted_at__isnull=True).first()
    if user is None:
        raise NotFound("User not found")
    return user


# --- Selectors --------------------------------------------------------------------------------


def user_list(
    *, search: str = "", role: str | None = None, is_active: bool | None = None
) -> QuerySet[User]:
    """Live users, newest first; `search` matches name or email (contains, any case)."""
    users = User.objects.alive()
    if search:
        users = users.filter(Q(name__icontains=search) | Q(email__icontains=search))
    if role:
        users = users.filter(role=role)
    if is_active is not None:
        users = users.filter(is_active=is_active)
    return users.order_by("-created_at", "-id")


def user_list_deleted() -> QuerySet[User]:
    """Soft-deleted users, most recently deleted first (restorable)."""
    return User.objects.filter(deleted_at__isnull=False).order_by("-deleted_at", "-id")


def user_get(*, user_id: int) -> User:
    user = User.objects.alive().filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


def user_get_for(*, viewer: User, user_id: int) -> User:
    """A live user as `viewer` may see them: themselves, or anyone for staff (403 before 404
    for everyone else, so ids of other accounts reveal nothing)."""
    if viewer.pk == user_id:
        return viewer
    _require_staff(viewer)
    return user_get(user_id=user_id)


def admin_stats() -> dict[str, Any]:
    """`GET /admin/stats` (contract §11): user numbers in one query; the other domains add
    theirs through accounts.lifecycle (organizations: the organization count). New users:
    today = since 00:00 UTC, week = the last 7 days, month = the last 30 days. Numbers no
    participant supplies yet (files) are 0."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    role_counts = {f"role_{r}": Count("id", filter=Q(role=r)) for r in Role.values}
    numbers = User.objects.alive().aggregate(
        total_users=Count("id"),
        active_users=Count("id", filter=Q(is_active=True)),
        verified_users=Count("id", filter=Q(email_verified=True)),
        new_users_today=Count("id", filter=Q(created_at__gte=today)),
        new_users_this_week=Count("id", filter=Q(created_at__gte=now - timedelta(days=7))),
        new_users_this_month=Count("id", filter=Q(created_at__gte=now - timedelta(days=30))),
        **role_counts,
    )
    stats: dict[str, Any] = {
        "total_users": numbers["total_users"],
        "active_users": numbers["active_users"],
        "verified_users": numbers["verified_users"],
        "new_users_today": numbers["new_users_today"],
        "new_users_this_week": numbers["new_users_this_week"],
        "new_users_this_month": numbers["new_users_this_month"],
        "total_subscriptions": 0,
        "active_subscriptions": 0,
        "canceled_subscriptions": 0,
        "total_files": 0,
        "total_file_size": 0,
        "total_organizations": 0,
        "total_usage_events": 0,
        "users_by_role": {r: numbers[f"role_{r}"] for r in Role.values},
    }
    stats.update(lifecycle.staff_stats())
    return stats


# --- Creating, editing, deleting ---------------------------------------------------------------


def user_create(
    *,
    actor: User | None,
    name: str,
    email: str,
    password: str | None = None,
    role: str = Role.USER,
) -> User:
    """`POST /users` (SA) and `manage.py create_user`: the address counts as verified; the
    password policy applies; without a password the user gets a reset link to set one."""
    _require_super_admin(actor)
    _role_checked(role)
    if not name.strip():
        raise ValidationFailed.for_field("name", "This field may not be blank.", code="blank")
    with transaction.atomic():
        user = services.user_create(
            email=email,
            password=password or None,
            name=name,
            role=role,
            email_verified=True,
            actor=actor,
            action="user_create",
        )
        if not password:
            verification.password_reset_request(email=user.email)
    return user


def user_update(*, actor: User, user_id: int, data: dict[str, Any]) -> User:
    """`PUT /users/{id}`: the profile fields, through the self-service rules
    (`accounts.profile.services.user_profile_update`: a new email is re-verified, 409 if taken)."""
    target = user_get_for(viewer=actor, user_id=user_id)
    if actor.pk != target.pk:
        _require_may_manage(actor, target, "edit")
    return user_profile_update(user=target, data=data, actor=actor)


def user_delete(*, actor: User, user_id: int) -> None:
    """`DELETE /users/{id}`: soft delete (restorable by a super admin). Sessions are revoked and
    sockets closed at once; the address stays reserved."""
    if actor.pk != user_id:
        _require_staff(actor)
    with transaction.atomic():
        super_admins = super_admins_lock()
        target = _live_locked(user_id)
        if actor.pk != target.pk:
            _require_may_manage(actor, target, "delete")
        last_super_admin_guard(target, super_admins, "delete")
        target.deleted_at = timezone.now()
        target.save(update_fields=["deleted_at", "updated_at"])
        sessions.sessions_revoke_all(user=target, reason="deleted")
        realtime.close_user_sockets(target.pk)
        audit_record(actor=actor, action="user_delete", target_type="user", target_id=target.pk)


def _address_taken(user: User) -> bool:
    """Whether another live account uses the user's address. The email constraint keeps a
    soft-deleted account's address reserved, so only a purge or rename can free it."""
    return User.objects.alive().filter(email__iexact=user.email).exclude(pk=user.pk).exists()


def user_restore(*, actor: User | None, user_id: int) -> User:
    """`POST /admin/users/{id}/restore` (SA): undo a soft delete. 404 unless deleted; 409 when
    another live account uses the address now."""
    _require_super_admin(actor)
    with transaction.atomic():
        target = (
            User.objects.select_for_update().filter(pk=user_id, deleted_at__isnull=False).first()
        )
        if target is None:
            raise NotFound("Deleted user not found")
        if _address_taken(target):
            raise Conflict("Another account uses this email address now", field="email")
        target.deleted_at = None
        target.deletion_requested_at = target.deletion_scheduled_at = None
        target.deletion_reason = ""
        target.save(
            update_fields=[
                "deleted_at",
                "deletion_requested_at",
                "deletion_scheduled_at",
                "deletion_reason",
                "updated_at",
            ]
        )
        audit_record(actor=actor, action="user_restore", target_type="user", target_id=target.pk)
    return target


# --- Role and activity -------------------------------------------------------------------------


def user_role_set(*, actor: User | None, user_id: int, role: str) -> User:
    """`PATCH /users/{id}/role` (Staff) and `PUT /admin/users/{id}/role` (SA): never one's own
    role; admin and super_admin are granted and revoked only by a super admin. Audited as
    `role_change`; the user's clients get `user_update{field: "role", value}`."""
    _role_checked(role)
    with transaction.atomic():
        super_admins = super_admins_lock()
        target = _live_locked(user_id)
        if actor is not None and actor.pk == target.pk:
            raise BadRequest("You cannot change your own role")
        _require_staff(actor)
        if not _is_super_admin(actor) and (target.role in STAFF_ROLES or role in STAFF_ROLES):
            raise Forbidden("Only a super admin can grant or revoke the admin roles")
        old = target.role
        if old == role:
            return target
        if role != Role.SUPER_ADMIN:
            last_super_admin_guard(target, super_admins, "demote")
        _role_write(target, role, actor=actor)
    return target


def _role_write(
    target: User, role: str, *, actor: User | None, metadata: dict[str, Any] | None = None
) -> None:
    """Save a changed role (caller holds the row lock), audit `role_change` and tell the
    user's clients (`user_update{field: "role"}`)."""
    old = target.role
    target.role = role
    target.save(update_fields=["role", "updated_at"])
    audit_record(
        actor=actor,
        action="role_change",
        target_type="user",
        target_id=target.pk,
        changes={"role": [old, role]},
        metadata=metadata,
    )
    realtime.publish_to_user(target.pk, "user_update", {"field": "role", "value": role})


def user_subscription_role_sync(*, user_id: int, live: bool, source: str = "stripe") -> bool:
    """Billing's role sync (contract §5.4): a live personal subscription makes a `user`
    `premium`, its end makes a `premium` a `user` again; admins and super admins are never
    touched. Audited as `role_change` (no actor); pushes `user_update{field: "role"}`.
    Returns whether the role changed."""
    with transaction.atomic():
        target = User.objects.select_for_update().filter(pk=user_id).first()
        if target is None or target.role not in (Role.USER, Role.PREMIUM):
            return False
        role = Role.PREMIUM if live else Role.USER
        if target.role == role:
            return False
        _role_write(target, role, actor=None, metadata={"source": source})
    return True


def user_deactivate(*, actor: User | None, user_id: int) -> User:
    """`POST /admin/users/{id}/deactivate`: the account can no longer sign in; its sessions are
    revoked and its sockets closed; its tokens fail with ACCOUNT_INACTIVE at once."""
    with transaction.atomic():
        super_admins = super_admins_lock()
        target = _live_locked(user_id)
        if actor is not None and actor.pk == target.pk:
            raise BadRequest("You cannot deactivate your own account")
        _require_staff(actor)
        _require_may_manage(actor, target, "deactivate")
        if not target.is_active:
            return target
        last_super_admin_guard(target, super_admins, "deactivate")
        target.is_active = False
        target.save(update_fields=["is_active", "updated_at"])
        sessions.sessions_revoke_all(user=target, reason="deactivated")
        realtime.close_user_sockets(target.pk)
        audit_record(actor=actor, action="user_deactivate", target_type="user", target_id=target.pk)
    return target


def user_reactivate(*, actor: User | None, user_id: int) -> User:
    """`POST /admin/users/{id}/reactivate`."""
    with transaction.atomic():
        target = _live_locked(user_id)
        if actor is not None and actor.pk == target.pk:
            raise BadRequest("You cannot reactivate your own account")
        _require_staff(actor)
        _require_may_manage(actor, target, "reactivate")
        if target.is_active:
            return target
        target.is_active = True
        target.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=actor, action="user_reactivate", target_type="user", target_id=target.pk)
    return target


# --- Django admin actions ---------------------------------------------------------------------


def user_unlock(*, actor: User | None, user: User) -> bool:
    """Clear the password and second-factor lockouts. Returns False when nothing was locked."""
    _require_staff(actor)
    _require_may_manage(actor, user, "unlock")
    with transaction.atomic():
        target = _live_locked(user.pk)
        fields = (
            "failed_login_attempts",
            "last_failed_login",
            "locked_until",
            "otp_failed_attempts",
            "otp_last_failed_at",
            "otp_locked_until",
        )
        if not any(getattr(target, f) for f in fields):
            return False
        target.failed_login_attempts = target.otp_failed_attempts = 0
        target.last_failed_login = target.locked_until = None
        target.otp_last_failed_at = target.otp_locked_until = None
        target.save(update_fields=[*fields, "updated_at"])
        audit_record(actor=actor, action="account_unlock", target_type="user", target_id=user.pk)
    return True


def user_sign_out_everywhere(*, actor: User | None, user: User) -> int:
    """Revoke every session of the user and close their sockets. Returns how many sessions."""
    _require_staff(actor)
    _require_may_manage(actor, user, "sign out")
    with transaction.atomic():
        revoked = sessions.sessions_revoke_all(user=user, reason="staff_sign_out")
        realtime.close_user_sockets(user.pk)
        audit_record(
            actor=actor,
            action="force_logout",
            target_type="user",
            target_id=user.pk,
            metadata={"revoked": revoked},
        )
    return revoked


def user_verification_resend(*, actor: User | None, user: User) -> bool:
    """Email a new verification link (400 if already verified; False if one went out less than
    a minute ago)."""
    _require_staff(actor)
    with transaction.atomic():
        sent = verification.email_verification_send(user=user)
        if sent:
            audit_record(
                actor=actor, action="verification_resend", target_type="user", target_id=user.pk
            )
    return sent


def user_last_ip_block(*, actor: User | None, user: User, caller_ip: str | None) -> str:
    """Block the address of the user's last successful sign-in (`last_login_ip`) through the
    IP blocklist's rules (never the caller's own address; 409 if already blocked)."""
    _require_staff(actor)
    _require_may_manage(actor, user, "block the address of")
    ip = str(user.last_login_ip or "")
    if not ip:
        raise BadRequest(f"{user.email} has no recorded sign-in address")
    ip_block_create(
        actor=actor,
        ip_address=ip,
        reason=f"Last sign-in address of user {user.pk}",
        caller_ip=caller_ip,
    )
    return ip


# --- Impersonation (contract §13.8) -------------------------------------------------------------


@dataclass(frozen=True)
class Impersonation:
    sign_in: sessions.SignIn  # the impersonation session, carrying the 1-hour access token
    original_user: User


def impersonation_start(
    *,
    admin: User,
    user_id: int,
    reason: str = "",
    meta: sessions.RequestMeta,
    impersonating: bool = False,
) -> Impersonation:
    """A super admin signs in as another user: a session of the target that records the admin
    (`original_user`), and a 1-hour access token carrying `original_user_id`. Refresh keeps
    issuing the target until stop or 1 h. Not oneself, not a super admin, never nested."""
    if impersonating:
        raise BadRequest("Cannot impersonate while impersonating; stop first")
    _require_super_admin(admin)
    if admin.pk == user_id:
        raise BadRequest("You cannot impersonate yourself")
    target = user_get(user_id=user_id)
    if target.role == Role.SUPER_ADMIN:
        raise BadRequest("Cannot impersonate a super admin")
    if not target.is_active:
        raise BadRequest("Cannot impersonate an inactive account")
    with transaction.atomic():
        sign_in = sessions.session_create(
            user=target, meta=meta, method=AuthMethod.PASSWORD, original_user=admin
        )
        session = sign_in.session
        session.expires_at = session.created_at + IMPERSONATION_LIFETIME
        session.save(update_fields=["expires_at"])
        access: AccessToken = issue_access_token(
            user=target,
            session_id=session.pk,
            original_user_id=admin.pk,
            lifetime=IMPERSONATION_LIFETIME,
        )
        audit_record(
            actor=admin,
            action="impersonate",
            target_type="user",
            target_id=target.pk,
            metadata={"reason": reason, "sid": session.pk},
        )
    return Impersonation(sign_in=dataclasses.replace(sign_in, access=access), original_user=admin)


def impersonation_stop(
    *,
    user: User,
    claims: dict[str, Any],
    access_token: str | None,
    meta: sessions.RequestMeta,
) -> sessions.SignIn:
    """End an impersonation from its token: the impersonation session is revoked, the token
    blacklisted, and the original admin gets a fresh session of their own."""
    original_user_id = claims.get("original_user_id")
    if not original_user_id:
        raise BadRequest("Not impersonating")
    sid = claims.get("sid")
    with transaction.atomic():
        session = (
            UserSession.objects.select_for_update()
            .filter(pk=sid, user=user, original_user_id=original_user_id)
            .first()
            if sid is not None
            else None
        )
        if session is not None and session.revoked_at is None:
            sessions.session_revoke(user=user, session_id=session.pk, actor=session.original_user)
        if access_token:
            blacklist(access_token, reason="impersonation_stop", user_id=user.pk)
        admin = User.objects.alive().filter(pk=original_user_id, is_active=True).first()
        audit_record(
            actor=admin,
            action="stop_impersonate",
            target_type="user",
            target_id=user.pk,
            metadata={"original_user_id": original_user_id},
        )
        if admin is not None:
            return sessions.session_create(user=admin, meta=meta, method=AuthMethod.PASSWORD)
    # The impersonation has ended either way; the admin's own account is gone or inactive.
    raise Unauthorized("The original account is no longer active")
