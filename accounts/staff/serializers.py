"""Input and output shapes of the staff routes (contract §3.2, §11, §13.8). Users are rendered
by `accounts.auth.serializers.user_data` (documented by `UserOutput`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.auth.serializers import UserOutput
from accounts.models import Role
from config.serializers import IdField, envelope_of


class UserListFilters(serializers.Serializer):
    """Query parameters of `GET /users` (besides `page`, `limit`)."""

    search = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="name or email contains"
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, allow_null=True)


class UserSearchFilters(serializers.Serializer):
    """Query parameters of `GET /admin/users` (besides `page`, `limit`)."""

    query = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="name or email contains"
    )


class UserCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    email = serializers.EmailField(max_length=255)
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=1024,
        trim_whitespace=False,
        help_text="omit to email the user a link to set one",
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False, default=Role.USER)


class UserUpdateInput(serializers.Serializer):
    """Like `PUT /users/me`: every field optional, unknown fields ignored."""

    name = serializers.CharField(required=False, min_length=1, max_length=255)
    email = serializers.EmailField(required=False, max_length=255)
    bio = serializers.CharField(required=False, allow_blank=True, max_length=500)
    location = serializers.CharField(required=False, allow_blank=True, max_length=255)
    social_links = serializers.JSONField(
        required=False, allow_null=True, help_text="an object, or a JSON-encoded string"
    )


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ImpersonateInput(serializers.Serializer):
    user_id = IdField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


@extend_schema_serializer(many=False)  # one page object, although a viewset's `list` answers it
class UserPage(serializers.Serializer):
    users = UserOutput(many=True)
    count = serializers.IntegerField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total_pages = serializers.IntegerField()


UserPageEnvelope = envelope_of(UserPage, "UserPageEnvelope")


class ImpersonateOutput(serializers.Serializer):
    user = UserOutput()
    token = serializers.CharField()
    original_user_id = serializers.IntegerField()
    expires_in = serializers.IntegerField(help_text="3600")


class AdminStatsOutput(serializers.Serializer):
    total_users = serializers.IntegerField()
    active_users = serializers.IntegerField()
    verified_users = serializers.IntegerField()
    new_users_today = serializers.IntegerField()
    new_users_this_week = serializers.IntegerField()
    new_users_this_month = serializers.IntegerField()
    total_subscriptions = serializers.IntegerField()
    active_subscriptions = serializers.IntegerField()
    canceled_subscriptions = serializers.IntegerField()
    total_files = serializers.IntegerField()
    total_file_size = serializers.IntegerField()
    total_organizations = serializers.IntegerField()
    total_usage_events = serializers.IntegerField(help_text="Usage events stored (Keel addition)")
    users_by_role = serializers.DictField(child=serializers.IntegerField())
