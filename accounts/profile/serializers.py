"""Input and output shapes of the signed-in user's own routes (contract §3.1, §3.3, §3.5)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.core.validators import NewPasswordField
from accounts.models import DateFormat, Language, Theme, TimeFormat, UserPreferences
from config.serializers import envelope_of

NOTIFICATION_KEYS = ("marketing", "security", "updates", "weekly_digest")


class ProfileInput(serializers.Serializer):
    """PUT/PATCH /users/me: any subset; unknown and read-only fields are ignored."""

    name = serializers.CharField(min_length=1, max_length=255, required=False)
    email = serializers.EmailField(max_length=255, required=False)
    bio = serializers.CharField(max_length=500, required=False, allow_blank=True)
    location = serializers.CharField(max_length=255, required=False, allow_blank=True)
    social_links = serializers.JSONField(required=False, allow_null=True)


@extend_schema_field(
    {
        "type": "object",
        "properties": {key: {"type": "boolean"} for key in NOTIFICATION_KEYS},
        "additionalProperties": False,
    }
)
class EmailNotificationsField(serializers.DictField):
    child = serializers.BooleanField()

    def to_internal_value(self, data: Any) -> dict[str, bool]:
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(NOTIFICATION_KEYS))
        if unknown:
            raise serializers.ValidationError(f"Unknown keys: {', '.join(unknown)}")
        return value


class PreferencesInput(serializers.Serializer):
    theme = serializers.ChoiceField(choices=Theme.choices, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    date_format = serializers.ChoiceField(choices=DateFormat.choices, required=False)
    time_format = serializers.ChoiceField(choices=TimeFormat.choices, required=False)
    email_notifications = EmailNotificationsField(required=False)


class PreferencesOutput(serializers.ModelSerializer):
    class Meta:
        model = UserPreferences
        fields = [
            "id",
            "user_id",
            "theme",
            "timezone",
            "language",
            "date_format",
            "time_format",
            "email_notifications",
            "created_at",
            "updated_at",
        ]


class PasswordChangeInput(serializers.Serializer):
    current_password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, trim_whitespace=False
    )
    new_password = NewPasswordField()
    confirm_password = serializers.CharField(
        max_length=1024, required=False, allow_null=True, trim_whitespace=False
    )


class ActivityOutput(serializers.Serializer):
    id = serializers.IntegerField()
    target_type = serializers.CharField()
    action = serializers.CharField()
    changes = serializers.JSONField(required=False)
    created_at = serializers.DateTimeField()


@extend_schema_serializer(many=False)  # one page object, although a viewset's `list` answers it
class ActivityPage(serializers.Serializer):
    activities = ActivityOutput(many=True)
    count = serializers.IntegerField()
    total = serializers.IntegerField()


class ConnectedAccountOutput(serializers.Serializer):
    provider = serializers.CharField()
    provider_user_id = serializers.CharField()
    email = serializers.CharField()
    connected_at = serializers.DateTimeField()


class AvatarOutput(serializers.Serializer):
    avatar_url = serializers.CharField()


AvatarEnvelopeOutput = envelope_of(
    AvatarOutput,
    "AvatarEnvelopeOutput",
    doc="The E shape of an avatar upload: `{success, message, data: {avatar_url}}`.",
)
