from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.core.avatars import avatar_url
from accounts.core.validators import NewPasswordField
from accounts.models import LoginHistory, Role, User, UserSession
from config.serializers import envelope_of


class UserOutput(serializers.Serializer):
    """User (contract §3.1). `social_links` is a JSON-encoded string. A plain Serializer: it is
    on the path of every `GET /auth/me`, and ModelSerializer's field building is slow."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    is_active = serializers.BooleanField()
    role = serializers.ChoiceField(choices=Role.choices)
    two_factor_enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    oauth_provider = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()
    bio = serializers.CharField()
    location = serializers.CharField()
    social_links = serializers.SerializerMethodField()

    def get_oauth_provider(self, obj: User) -> str | None:
        return obj.oauth_provider or None

    def get_avatar_url(self, obj: User) -> str | None:
        return avatar_url(obj)

    def get_social_links(self, obj: User) -> str | None:
        return json.dumps(obj.social_links) if obj.social_links else None


def user_data(user: User) -> dict[str, Any]:
    """The User object (contract §3.1) as `UserOutput` documents it, built directly: this is
    on the path of every `GET /auth/me` and sign-in, where DRF's per-instance field copying
    costs more than the rest of the view (tests keep the two in step)."""
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
        "is_active": user.is_active,
        "role": user.role,
        "two_factor_enabled": user.two_factor_enabled,
        "created_at": iso(user.created_at),
        "updated_at": iso(user.updated_at),
        "oauth_provider": user.oauth_provider or None,
        "avatar_url": avatar_url(user),
        "bio": user.bio,
        "location": user.location,
        "social_links": json.dumps(user.social_links) if user.social_links else None,
    }


def iso(value: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO-8601 in UTC with `Z`, as DRF's DateTimeField
    writes it under TIME_ZONE = "UTC" (Keel's only time zone), without its per-call time-zone
    lookup (a 1,000-member list spent a fifth of its time there)."""
    if not value:
        return None
    if value.tzinfo is None:  # naive: already UTC (USE_TZ)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RegisterInput(serializers.Serializer):
    name = serializers.CharField(max_length=255, trim_whitespace=True)
    email = serializers.EmailField(max_length=255)
    password = NewPasswordField()


class LoginInput(serializers.Serializer):
    email = serializers.EmailField(max_length=255)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp_code = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=20
    )


class RefreshInput(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=512)


class LogoutInput(serializers.Serializer):
    refresh_token = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=512
    )


class AuthResponseOutput(serializers.Serializer):
    user = UserOutput()
    token = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenResponseOutput(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    user = UserOutput()


UserEnvelopeOutput = envelope_of(UserOutput, "UserEnvelopeOutput")


class DeviceOutputMixin(serializers.Serializer):
    ip_address = serializers.SerializerMethodField()

    def get_ip_address(self, obj: Any) -> str:
        return str(obj.ip_address) if obj.ip_address else ""


class SessionOutput(DeviceOutputMixin, serializers.ModelSerializer):
    is_current = serializers.SerializerMethodField()

    class Meta:
        model = UserSession
        fields = [
            "id",
            "user_id",
            "device_info",
            "browser",
            "browser_version",
            "os",
            "os_version",
            "device_type",
            "ip_address",
            "location",
            "is_current",
            "last_active_at",
            "created_at",
            "expires_at",
        ]

    def get_is_current(self, obj: UserSession) -> bool:
        return obj.pk == self.context.get("current_session_id")


class LoginHistoryOutput(DeviceOutputMixin, serializers.ModelSerializer):
    failure_reason = serializers.SerializerMethodField()

    class Meta:
        model = LoginHistory
        fields = [
            "id",
            "user_id",
            "success",
            "failure_reason",
            "auth_method",
            "ip_address",
            "user_agent",
            "device_info",
            "device_type",
            "browser",
            "os",
            "location",
            "created_at",
        ]

    def get_failure_reason(self, obj: LoginHistory) -> str | None:
        return obj.failure_reason or None


@extend_schema_serializer(many=False)  # one page object, although a viewset's `list` answers it
class LoginHistoryPage(serializers.Serializer):
    history = LoginHistoryOutput(many=True)
    count = serializers.IntegerField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total_pages = serializers.IntegerField()


class EmailInput(serializers.Serializer):
    email = serializers.EmailField(max_length=255)


class OptionalEmailInput(serializers.Serializer):
    email = serializers.EmailField(max_length=255, required=False, allow_blank=True)


class ResetConfirmInput(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    password = NewPasswordField()


class CodeInput(serializers.Serializer):
    code = serializers.CharField(max_length=20)


class TwoFactorStatusOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    backup_codes_remaining = serializers.IntegerField()
    verified_at = serializers.DateTimeField(allow_null=True)


class TwoFactorSetupOutput(serializers.Serializer):
    secret = serializers.CharField()
    qr_code = serializers.CharField(help_text="base64 PNG")
    qr_code_url = serializers.CharField(help_text="the otpauth:// URI")
    otpauth_url = serializers.CharField()


class BackupCodesOutput(serializers.Serializer):
    backup_codes = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField()


class OAuthProviderOutput(serializers.Serializer):
    provider = serializers.CharField()
    email = serializers.CharField()
    linked_at = serializers.DateTimeField()


class OAuthProvidersOutput(serializers.Serializer):
    providers = OAuthProviderOutput(many=True)


class OAuthStartOutput(serializers.Serializer):
    url = serializers.CharField()
    state = serializers.CharField()
