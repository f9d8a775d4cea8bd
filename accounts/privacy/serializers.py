"""Shapes of the GDPR routes (contract §3.1 DataExport, §3.6, §3.7)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import DataExport, ExportStatus
from accounts.privacy.services import DELETION_REASON_MAX, DeletionStatus, data_export_download_url
from config.serializers import envelope_of


class DataExportOutput(serializers.Serializer):
    """DataExport `{id, status, download_url?, requested_at, created_at, completed_at?,
    expires_at?, file_size?, error_message?}`, plus `progress` (0–100) for the page."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ExportStatus.choices)
    progress = serializers.IntegerField()
    download_url = serializers.SerializerMethodField()
    requested_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    file_size = serializers.IntegerField(allow_null=True)
    error_message = serializers.SerializerMethodField()

    def get_download_url(self, obj: DataExport) -> str | None:
        return data_export_download_url(obj)

    def get_error_message(self, obj: DataExport) -> str | None:
        return obj.error_message or None


DataExportEnvelopeOutput = envelope_of(DataExportOutput, "DataExportEnvelopeOutput")


class DeletionRequestInput(serializers.Serializer):
    password = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=1024, trim_whitespace=False
    )
    confirmation = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=20
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=DELETION_REASON_MAX
    )


class DeletionStatusOutput(serializers.Serializer):
    """`{requested, requested_at?, scheduled_for?, reason?}`."""

    requested = serializers.BooleanField()
    requested_at = serializers.DateTimeField(allow_null=True)
    scheduled_for = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_null=True)


DeletionEnvelopeOutput = envelope_of(DeletionStatusOutput, "DeletionEnvelopeOutput")


def deletion_status_data(status: DeletionStatus) -> dict[str, object]:
    return dict(DeletionStatusOutput(status).data)
