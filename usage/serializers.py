"""Usage request and response shapes (contract §6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from usage.periods import previous_month_start

MAX_BATCH = 1000


class StrictCharField(serializers.CharField):
    """A string, and only a string (DRF's CharField would take 5 or true as "5", "True")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class MetadataField(serializers.DictField):
    """`{str: str}`: string keys and string values only."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=StrictCharField(allow_blank=True, max_length=1000), **kwargs)


class RecordInput(serializers.Serializer):
    event_type = serializers.CharField(max_length=50)
    resource = serializers.CharField(max_length=255)
    quantity = serializers.IntegerField(min_value=0, max_value=2**62, default=1)
    unit = serializers.CharField(max_length=20, default="count")
    metadata = MetadataField(required=False, default=dict)


class EventInput(RecordInput):
    id = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    timestamp = serializers.DateTimeField(required=False, allow_null=True)

    def validate_timestamp(self, value: Any) -> Any:
        if value is None:
            return None
        now = timezone.now()
        if value > now + timedelta(minutes=5):
            raise serializers.ValidationError("Must not be more than 5 minutes in the future.")
        oldest = previous_month_start(now)
        if value.date() < oldest:
            raise serializers.ValidationError(
                f"Must not be earlier than the previous period ({oldest.isoformat()})."
            )
        return value


class EventsInput(serializers.Serializer):
    events = serializers.ListField(
        child=EventInput(), min_length=1, max_length=MAX_BATCH, allow_empty=False
    )


class HistoryQuery(serializers.Serializer):
    months = serializers.IntegerField(min_value=1, max_value=24, default=6)


class TotalsOutput(serializers.Serializer):
    api_calls = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    compute_ms = serializers.IntegerField()
    file_uploads = serializers.IntegerField()


class UsageSummaryOutput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["user", "organization"])
    plan = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    totals = TotalsOutput()
    limits = TotalsOutput()
    percentages = TotalsOutput()
    limits_exceeded = serializers.BooleanField()


class UsageHistoryOutput(serializers.Serializer):
    history = UsageSummaryOutput(many=True)
    count = serializers.IntegerField()


class RecordOutput(serializers.Serializer):
    message = serializers.CharField()
    event_id = serializers.IntegerField()


class IngestOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class UsageAlertOutput(serializers.Serializer):
    id = serializers.IntegerField()
    alert_type = serializers.ChoiceField(choices=["warning_80", "warning_90", "exceeded"])
    usage_type = serializers.CharField()
    current_usage = serializers.IntegerField()
    usage_limit = serializers.IntegerField()
    percentage_used = serializers.IntegerField()
    acknowledged = serializers.BooleanField()
    acknowledged_at = serializers.DateTimeField(allow_null=True, required=False)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    organization_id = serializers.IntegerField(allow_null=True, required=False)
    org_slug = serializers.CharField(allow_null=True, required=False)
    created_at = serializers.DateTimeField()


class UsageAlertListOutput(serializers.Serializer):
    alerts = UsageAlertOutput(many=True)
    count = serializers.IntegerField()


class AcknowledgeOutput(serializers.Serializer):
    message = serializers.CharField()
    alert_id = serializers.IntegerField()
