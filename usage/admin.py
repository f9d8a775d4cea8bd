"""Usage in the Django admin: periods, alerts, events and fold batches, read-only (the totals
move only through the services: ingestion, the fold)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from usage.models import UsageAlert, UsageEvent, UsageFoldBatch, UsagePeriod


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def scope_label(obj: Any) -> str:
    return f"org {obj.organization}" if obj.organization_id else f"user {obj.user}"


@admin.register(UsagePeriod)
class UsagePeriodAdmin(ReadOnlyAdmin):
    list_display = (
        "period_start",
        "scope",
        "api_calls",
        "storage_bytes",
        "compute_ms",
        "file_uploads",
        "limits_exceeded",
    )
    list_filter = ("period_start", "limits_exceeded")
    list_select_related = ("user", "organization")
    search_fields = ("user__email", "organization__slug")
    date_hierarchy = "period_start"

    @admin.display(description="Scope")
    def scope(self, obj: UsagePeriod) -> str:
        return scope_label(obj)


@admin.register(UsageAlert)
class UsageAlertAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "scope",
        "alert_type",
        "usage_type",
        "percentage_used",
        "period_start",
        "acknowledged_at",
    )
    list_filter = ("alert_type", "usage_type", "period_start")
    list_select_related = ("user", "organization")
    search_fields = ("user__email", "organization__slug")

    @admin.display(description="Scope")
    def scope(self, obj: UsageAlert) -> str:
        return scope_label(obj)


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "scope", "event_type", "resource", "quantity", "unit")
    list_filter = ("event_type",)
    list_select_related = ("user", "organization")
    search_fields = ("user__email", "organization__slug", "client_event_id", "resource")
    date_hierarchy = "occurred_at"

    @admin.display(description="Scope")
    def scope(self, obj: UsageEvent) -> str:
        return scope_label(obj)


@admin.register(UsageFoldBatch)
class UsageFoldBatchAdmin(ReadOnlyAdmin):
    list_display = ("name", "folded_at")
