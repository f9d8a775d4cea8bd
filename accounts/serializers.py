from __future__ import annotations

import json
from typing import Any

from rest_framework import serializers

from accounts.models import LoginHistory, User, UserSession


class UserOutput(serializers.ModelSerializer):
    """User (contract §3.1). `social_links` is a JSON-encoded string."""

    two_factor_enabled = serializers.SerializerMethodField()
    oauth_provider = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()
    social_links = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "name",
            "email",
            "email_verified",
            "is_active",
            "role",
            "two_factor_enabled",
            "created_at",
            "updated_at",
            "oauth_provider",
            "avatar_url",
            "bio",
            "location",
            "social_links",
        ]

    def get_two_factor_enabled(self, obj: User) -> bool:
        from accounts.two_factor import two_factor_enabled

        return two_factor_enabled(obj)

    def get_oauth_provider(self, obj: User) -> str | None:
        """The first connected sign-in provider (google, github), if any."""
        from allauth.socialaccount.models import SocialAccount

        account = SocialAccount.objects.filter(user=obj).order_by("date_joined").first()
        return account.provider if account else None

    def get_avatar_url(self, obj: User) -> str | None:
        return None

    def get_social_links(self, obj: User) -> str | None:
        return json.dumps(obj.social_links) if obj.social_links else None


class RegisterInput(serializers.Serializer):
    name = serializers.CharField(max_length=255, trim_whitespace=True)
    email = serializers.EmailField(max_length=255)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


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


class UserEnvelopeOutput(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    data = UserOutput()


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
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


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
