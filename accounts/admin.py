from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import (
    BackupCode,
    DataExport,
    LoginHistory,
    RotatedRefreshToken,
    TokenBlacklist,
    TOTPDevice,
    User,
    UserPreferences,
    UserSession,
)
from security.admin import block_ip_addresses


class KeelUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "role")


class KeelUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = KeelUserChangeForm
    add_form = KeelUserCreationForm
    ordering = ("-created_at",)
    list_display = (
        "email",
        "name",
        "role",
        "is_active",
        "email_verified",
        "last_login_at",
        "created_at",
    )
    list_filter = ("role", "is_active", "email_verified", "deleted_at")
    search_fields = ("email", "name")
    readonly_fields = (
        "created_at",
        "updated_at",
        "last_login",
        "last_login_at",
        "last_login_ip",
        "is_staff",
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "bio", "location", "social_links", "avatar")}),
        (
            "Access",
            {"fields": ("role", "is_active", "is_staff", "email_verified", "email_verified_at")},
        ),
        (
            "Security",
            {
                "fields": (
                    "failed_login_attempts",
                    "last_failed_login",
                    "locked_until",
                    "last_login_at",
                    "last_login_ip",
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
        from accounts.services import session_revoke

        for session in queryset.filter(revoked_at__isnull=True):
            session_revoke(user=session.user, session_id=session.pk, actor=request.user)
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
        from accounts.two_factor import two_factor_reset

        users = [d.user for d in queryset.select_related("user")]
        for user in users:
            two_factor_reset(user=user, actor=request.user)  # type: ignore[arg-type]
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
