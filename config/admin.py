from __future__ import annotations

from django.contrib import admin

from config.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "pid", "beat_at")
    search_fields = ("name",)
    readonly_fields = ("name", "pid", "beat_at")

    def has_add_permission(self, request: object) -> bool:
        return False
