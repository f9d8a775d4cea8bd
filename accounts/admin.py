from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.auth.services import password_set
from accounts.auth.sessions import session_revoke
from accounts.auth.two_factor import two_factor_reset
from accounts.core.requests import request_user
from accounts.core.validators import password_problems
from accounts.models import (
    STAFF_ROLES,
    BackupCode,
    DataExport,
    LoginHistory,
    Role,
    RotatedRefreshToken,
    TokenBlacklist,
    TOTPDevice,
    User,
    UserPreferences,
    UserSession,
)
from accounts.profile.services import PROFILE_FIELDS
from accounts.staff import services as staff
from config.errors import DomainError
from security.admin import block_ip_addresses


class KeelUserCreationForm(UserCreationForm):
    """Adding a user (super admins): Keel's password policy; saved by `staff.user_create`."""

    class Meta:
        model = User
        fields = ("email", "name", "role")

    def clean_password1(self) -> str:
        password = self.cleaned_data.get("password1") or ""
        _check_policy(password)
        return password


class KeelUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class KeelPasswordChangeForm(AdminPasswordChangeForm):
    """Setting a user's password in the admin: Keel's policy, and `services.password_set`
    (every session signed out, audited, `password_changed` emailed)."""

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True

    def clean_password1(self) -> str:
        password = self.cleaned_data.get("password1") or ""
        _check_policy(password)
        return password

    def save(self, commit: bool = True) -> User:

        password_set(user=self.user, password=self.cleaned_data["password1"])
        return self.user


def _check_policy(password: str) -> None:

    problems = password_problems(password)
    if problems:
        raise ValidationError(problems)


class LockedFilter(admin.SimpleListFilter):
    title = "locked"
    parameter_name = "locked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Locked now"), ("no", "Not locked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        locked = Q(locked_until__gt=timezone.now())
        if self.value() == "yes":
            return queryset.filter(locked)
        if self.value() == "no":
            return queryset.exclude(locked)
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Soft-deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class LatestRowsFormSet(BaseInlineFormSet):
    """An inline showing only the newest `limit` rows (a user can have thousands)."""

    limit = 10

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[: self.limit]
        return self._latest


class ReadOnlyInline(admin.TabularInline):
    """Read-only history under a user: no adding, editing or deleting here."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SessionFormSet(LatestRowsFormSet):
    limit = 10


class UserSessionInline(ReadOnlyInline):
    model = UserSession
    fk_name = "user"
    formset = SessionFormSet
    verbose_name_plural = "latest sessions (10)"
    ordering = ("-last_active_at", "-id")
    fields = (
        "device_info",
        "ip_address",
        "auth_method",
        "created_at",
        "last_active_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "original_user",
    )


class LoginHistoryFormSet(LatestRowsFormSet):
    limit = 20


class LoginHistoryInline(ReadOnlyInline):
    model = LoginHistory
    formset = LoginHistoryFormSet
    verbose_name_plural = "latest sign-in attempts (20)"
    ordering = ("-created_at", "-id")
    fields = ("created_at", "success", "failure_reason", "auth_method", "ip_address", "device_info")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users. Staff (admin, super_admin) see and edit them; only super admins add users or act
    on super admins. Every change goes through `accounts.staff.services` /
    `accounts.profile.services`, so the role rules, audit entries and real-time events are the
    API's: the profile and the role are edited in the form, everything else through the
    actions. Nothing is hard-deleted here
    (soft delete: `DELETE /users/{id}`; purge: the deletion job)."""

    form = KeelUserChangeForm
    add_form = KeelUserCreationForm
    change_password_form = KeelPasswordChangeForm
    ordering = ("-created_at",)
    list_display = (
        "email",
        "name",
        "role",
        "is_active",
        "email_verified",
        "two_factor_enabled",
        "is_locked",
        "last_login_at",
        "created_at",
    )
    list_filter = (
        "role",
        "is_active",
        "email_verified",
        LockedFilter,
        "two_factor_enabled",
        DeletedFilter,
    )
    search_fields = ("email", "name", "last_login_ip")
    list_per_page = 50
    inlines = (UserSessionInline, LoginHistoryInline)
    actions = (
        "deactivate_users",
        "reactivate_users",
        "unlock_users",
        "resend_verification",
        "sign_out_everywhere",
        "block_last_ip",
    )
    readonly_fields = (
        "avatar",
        "is_active",
        "is_staff",
        "email_verified",
        "email_verified_at",
        "two_factor_enabled",
        "oauth_provider",
        "failed_login_attempts",
        "last_failed_login",
        "locked_until",
        "otp_locked_until",
        "last_login_at",
        "last_login_ip",
        "last_password_change_at",
        "deletion_requested_at",
        "deletion_scheduled_at",
        "deleted_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "bio", "location", "social_links", "avatar")}),
        (
            "Access (activate, deactivate, verify: use the actions)",
            {
                "fields": (
                    "role",
                    "is_active",
                    "is_staff",
                    "email_verified",
                    "email_verified_at",
                    "two_factor_enabled",
                    "oauth_provider",
                )
            },
        ),
        (
            "Security (unlock: use the action)",
            {
                "fields": (
                    "failed_login_attempts",
                    "last_failed_login",
                    "locked_until",
                    "otp_locked_until",
                    "last_login_at",
                    "last_login_ip",
                    "last_password_change_at",
                )
            },
        ),
        (
            "Lifecycle",
            {
                "fields": (
                    "deletion_requested_at",
                    "deletion_scheduled_at",
                    "deleted_at",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "name", "role", "password1", "password2")},
        ),
    )
    filter_horizontal = ()

    @admin.display(boolean=True, description="locked")
    def is_locked(self, obj: User) -> bool:
        return bool(obj.locked_until and obj.locked_until > timezone.now())

    # --- who may do what (the API's rules) ----------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not request.user.is_staff:
            return False
        return not (obj is not None and obj.role == Role.SUPER_ADMIN and not _is_sa(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_sa(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Setting someone's password lets one sign in as them: super admins only (and it is
        # `services.password_set`: every session signed out, the user emailed).
        if not _is_sa(request):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> Any:
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        fields = list(self.readonly_fields)
        staff_target = obj.role in STAFF_ROLES
        if obj.pk == request.user.pk or (staff_target and not _is_sa(request)):
            fields.append("role")  # own role never; admin roles only by a super admin
        return fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        role = form.base_fields.get("role")  # a choice field, absent where the role is read-only
        if isinstance(role, forms.ChoiceField) and not _is_sa(request):
            role.choices = [c for c in Role.choices if c[0] not in STAFF_ROLES]
        return form

    # --- saving through the services ----------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:

        data = form.cleaned_data
        try:
            if not change:
                obj.pk = staff.user_create(
                    actor=request_user(request),
                    name=data.get("name") or "",
                    email=data["email"],
                    password=data.get("password1") or None,
                    role=data.get("role") or Role.USER,
                ).pk
                return
            profile = {f: data[f] for f in PROFILE_FIELDS if f in form.changed_data}
            if profile:
                staff.user_update(actor=request_user(request), user_id=obj.pk, data=profile)
            if "role" in form.changed_data:
                staff.user_role_set(actor=request_user(request), user_id=obj.pk, role=data["role"])
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    # --- actions (each through a service, with the service's rules) ---------------------------

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[User],
        act: Callable[[User], object],
        done: str,
    ) -> None:
        count = 0
        for user in queryset.order_by("pk"):
            try:
                if act(user) is not False:
                    count += 1
            except DomainError as exc:
                self.message_user(request, f"{user.email}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done}: {count} user(s).", messages.SUCCESS)

    @admin.action(description="Deactivate (sign out everywhere)", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        self._each(
            request,
            queryset,
            lambda u: staff.user_deactivate(actor=request_user(request), user_id=u.pk),
            "Deactivated",
        )

    @admin.action(description="Reactivate", permissions=["change"])
    def reactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        self._each(
            request,
            queryset,
            lambda u: staff.user_reactivate(actor=request_user(request), user_id=u.pk),
            "Reactivated",
        )

    @admin.action(description="Unlock (clear sign-in and 2FA lockouts)", permissions=["change"])
    def unlock_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        self._each(
            request,
            queryset,
            lambda u: staff.user_unlock(actor=request_user(request), user=u),
            "Unlocked",
        )

    @admin.action(description="Resend the verification email", permissions=["change"])
    def resend_verification(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        self._each(
            request,
            queryset,
            lambda u: staff.user_verification_resend(actor=request_user(request), user=u),
            "Verification email sent to",
        )

    @admin.action(description="Sign out everywhere (revoke all sessions)", permissions=["change"])
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        self._each(
            request,
            queryset,
            lambda u: staff.user_sign_out_everywhere(actor=request_user(request), user=u),
            "Signed out",
        )

    @admin.action(description="Block the last sign-in IP address", permissions=["change"])
    def block_last_ip(self, request: HttpRequest, queryset: QuerySet[User]) -> None:

        caller_ip = getattr(request, "client_ip", None)
        self._each(
            request,
            queryset,
            lambda u: staff.user_last_ip_block(
                actor=request_user(request), user=u, caller_ip=caller_ip
            ),
            "Blocked the last IP address of",
        )


def _is_sa(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) == Role.SUPER_ADMIN


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "device_info",
        "ip_address",
        "auth_method",
        "last_active_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("auth_method", "device_type", "revoked_at")
    search_fields = ("user__email", "ip_address", "device_info")
    list_select_related = ("user",)
    readonly_fields = ("refresh_token_hash",)
    raw_id_fields = ("user", "original_user")
    actions = ["revoke_sessions"]

    @admin.action(description="Revoke the selected sessions")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[UserSession]) -> None:

        for session in queryset.filter(revoked_at__isnull=True):
            session_revoke(user=session.user, session_id=session.pk, actor=request_user(request))
        self.message_user(request, "Sessions revoked.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created by sign-ins and logouts, never by hand


@admin.register(RotatedRefreshToken)
class RotatedRefreshTokenAdmin(admin.ModelAdmin):
    list_display = ("session", "rotated_at")
    raw_id_fields = ("session",)
    readonly_fields = ("session", "token_hash", "rotated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created by sign-ins and logouts, never by hand


@admin.register(TokenBlacklist)
class TokenBlacklistAdmin(admin.ModelAdmin):
    list_display = ("user", "reason", "expires_at", "created_at")
    list_select_related = ("user",)  # nullable: not joined by default
    list_filter = ("reason",)
    search_fields = ("user__email",)
    readonly_fields = ("token_hash", "user", "expires_at", "reason", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created by sign-ins and logouts, never by hand


@admin.register(LoginHistory)
class LoginHistoryAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "user",
        "success",
        "failure_reason",
        "auth_method",
        "ip_address",
        "device_info",
    )
    list_filter = ("success", "failure_reason", "auth_method", "device_type")
    search_fields = ("user__email", "ip_address")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    actions = [block_ip_addresses]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LoginHistory | None = None) -> bool:
        return False


@admin.register(TOTPDevice)
class TOTPDeviceAdmin(admin.ModelAdmin):
    """Enrolled authenticators. Secrets are never shown; staff can only reset a user's 2FA."""

    list_display = ("user", "confirmed", "created_at", "verified_at")
    list_filter = ("confirmed",)
    search_fields = ("user__email", "user__name")
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "verified_at")
    readonly_fields = fields
    actions = ("reset_two_factor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Reset two-factor authentication (user must enrol again)")
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[TOTPDevice]) -> None:

        users = [d.user for d in queryset.select_related("user")]
        for user in users:
            two_factor_reset(user=user, actor=request_user(request))
        self.message_user(request, f"Two-factor authentication reset for {len(users)} user(s).")


@admin.register(BackupCode)
class BackupCodeAdmin(admin.ModelAdmin):
    """Backup codes exist only as hashes: the list shows who has how many, and which are used."""

    list_display = ("user", "used_at", "created_at")
    list_filter = (("used_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "used_at", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(UserPreferences)
class UserPreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "theme", "language", "timezone", "updated_at")
    list_filter = ("theme", "language", "time_format")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(DataExport)
class DataExportAdmin(admin.ModelAdmin):
    """GDPR exports: who asked, where they stand. The files are private; staff never download
    them here."""

    list_display = ("user", "status", "progress", "file_size", "requested_at", "expires_at")
    list_filter = ("status",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    readonly_fields = [f.name for f in DataExport._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
