from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from accounts.models import User


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
