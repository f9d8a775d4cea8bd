from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from config.serializers import IdField
from security import system_settings
from security.models import AuditLog, IPBlock, SystemSetting


class SystemSettingOutput(serializers.ModelSerializer):
    # Not `get_value`: that name is Field.get_value, which a serializer needs when nested.
    value = serializers.SerializerMethodField(method_name="display_value")
    id = serializers.SerializerMethodField()

    class Meta:
        model = SystemSetting
        fields = ["id", "key", "value", "category", "description", "is_sensitive", "updated_at"]

    def display_value(self, obj: SystemSetting) -> Any:
        return system_settings.display_value(obj.key, obj.value)

    def get_id(self, obj: SystemSetting) -> int:
        return obj.pk or 0


class SettingValueInput(serializers.Serializer):
    value = serializers.JSONField()


class EmailSettingsOutput(serializers.Serializer):
    smtp_host = serializers.CharField()
    smtp_port = serializers.IntegerField()
    smtp_user = serializers.CharField()
    smtp_username = serializers.CharField(help_text="Alias of smtp_user (React client)")
    smtp_password_set = serializers.BooleanField(help_text="The password itself is write-only")
    from_email = serializers.CharField()
    smtp_from_email = serializers.CharField()
    from_name = serializers.CharField()
    smtp_from_name = serializers.CharField()
    enabled = serializers.BooleanField()
    smtp_enabled = serializers.BooleanField()


class EmailSettingsInput(serializers.Serializer):
    smtp_host = serializers.JSONField(required=False)
    smtp_port = serializers.JSONField(required=False)
    smtp_user = serializers.JSONField(required=False)
    smtp_username = serializers.JSONField(required=False)
    smtp_password = serializers.JSONField(required=False)
    from_email = serializers.JSONField(required=False)
    smtp_from_email = serializers.JSONField(required=False)
    from_name = serializers.JSONField(required=False)
    smtp_from_name = serializers.JSONField(required=False)
    enabled = serializers.JSONField(required=False)
    smtp_enabled = serializers.JSONField(required=False)


class EmailTestInput(serializers.Serializer):
    recipient_email = serializers.EmailField(required=False, allow_blank=True)


class IPBlockOutput(serializers.ModelSerializer):
    ip_address = serializers.SerializerMethodField()
    ip_range = serializers.SerializerMethodField()

    class Meta:
        model = IPBlock
        fields = [
            "id",
            "ip_address",
            "ip_range",
            "reason",
            "block_type",
            "hit_count",
            "expires_at",
            "is_active",
            "created_at",
        ]

    def get_ip_address(self, obj: IPBlock) -> str:
        return str(obj.ip_address) if obj.ip_address else obj.ip_range

    def get_ip_range(self, obj: IPBlock) -> str | None:
        return obj.ip_range or None


class IPBlockInput(serializers.Serializer):
    ip_address = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )
    ip_range = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=64
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    block_type = serializers.CharField(required=False, default="manual")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    expires_in_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=24 * 3650
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The arguments of `services.ip_block_create`: a range sent in `ip_address` (the React
        client does) is the range; `expires_in_hours` becomes `expires_at`."""
        address, cidr = attrs.get("ip_address") or "", attrs.get("ip_range") or ""
        if "/" in address and not cidr:
            address, cidr = "", address
        expires_at = attrs.get("expires_at")
        if expires_at is None and attrs.get("expires_in_hours"):
            expires_at = timezone.now() + timedelta(hours=attrs["expires_in_hours"])
        return {
            "ip_address": address,
            "ip_range": cidr,
            "reason": attrs.get("reason", ""),
            "block_type": attrs.get("block_type") or "manual",
            "expires_at": expires_at,
        }


class AuditLogOutput(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="actor_id", allow_null=True)
    user_name = serializers.SerializerMethodField()
    user_email = serializers.SerializerMethodField()
    target_id = serializers.SerializerMethodField()
    ip_address = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "user_id",
            "user_name",
            "user_email",
            "target_type",
            "target_id",
            "action",
            "changes",
            "ip_address",
            "user_agent",
            "metadata",
            "created_at",
        ]

    def get_user_name(self, obj: AuditLog) -> str | None:
        return obj.actor.name if obj.actor else None

    def get_user_email(self, obj: AuditLog) -> str | None:
        return obj.actor.email if obj.actor else None

    def get_target_id(self, obj: AuditLog) -> str | None:
        return obj.target_id or None

    def get_metadata(self, obj: AuditLog) -> dict[str, Any]:
        return (
            {**(obj.metadata or {}), "request_id": obj.request_id}
            if obj.request_id
            else (obj.metadata or {})
        )


@extend_schema_field(
    {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
)
class DateOrDateTimeField(serializers.CharField):
    """`YYYY-MM-DD` (the whole day) or an ISO-8601 time; parsed by the serializer."""


class AuditLogFilters(serializers.Serializer):
    user_id = IdField(required=False)
    target_type = serializers.CharField(required=False, max_length=50)
    target_id = serializers.CharField(required=False, max_length=64)
    action = serializers.CharField(required=False, max_length=100)
    start_date = serializers.DateTimeField(required=False, input_formats=["iso-8601", "%Y-%m-%d"])
    end_date = DateOrDateTimeField(required=False)

    def validate_end_date(self, value: str) -> Any:
        from datetime import date

        from django.utils.dateparse import parse_datetime

        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            parsed = parse_datetime(value)
        except ValueError:  # well-formed but impossible, e.g. 2024-02-30T10:00
            parsed = None
        if parsed is None:
            raise serializers.ValidationError("Enter a date (YYYY-MM-DD) or an ISO-8601 time")
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed, UTC)
        try:  # in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python parses (-16:26)
            return parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise serializers.ValidationError("Datetime value out of range") from None


@extend_schema_serializer(many=False)  # one page object, although a viewset's `list` answers it
class PaginatedAuditLogs(serializers.Serializer):
    logs = AuditLogOutput(many=True)
    count = serializers.IntegerField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total_pages = serializers.IntegerField()


class MessageOutput(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
