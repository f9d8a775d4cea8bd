"""Reads of the security app."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from security import system_settings
from security.models import AuditLog, IPBlock, SystemSetting


def audit_log_list(*, filters: dict[str, Any] | None = None) -> QuerySet[AuditLog]:
    """Audit entries, newest first, with the actor loaded (no N+1)."""
    filters = filters or {}
    qs = AuditLog.objects.select_related("actor")
    if filters.get("user_id") is not None:
        qs = qs.filter(actor_id=filters["user_id"])
    for name in ("target_type", "target_id", "action"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("start_date"):
        qs = qs.filter(created_at__gte=_start_of(filters["start_date"]))
    if filters.get("end_date"):
        end = filters["end_date"]
        if isinstance(end, datetime):
            qs = qs.filter(created_at__lte=end)
        else:  # a whole day: everything before the next midnight
            qs = qs.filter(created_at__lt=_start_of(end) + timedelta(days=1))
    return qs.order_by("-created_at", "-id")


def _start_of(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=UTC)


def ip_block_list(*, include_inactive: bool = False) -> QuerySet[IPBlock]:
    qs = IPBlock.objects.all()
    if not include_inactive:
        qs = qs.filter(is_active=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        )
    return qs.order_by("-created_at")


def system_setting_rows(*, category: str | None = None) -> list[SystemSetting]:
    """Rows for every defined setting (in definition order), values as currently effective."""
    rows = {r.key: r for r in SystemSetting.objects.all()}
    values = system_settings.all_settings()
    out = []
    for key, defn in system_settings.DEFINITIONS.items():
        if category and defn.category != category:
            continue
        row = rows.get(key) or SystemSetting(
            key=key,
            category=defn.category,
            description=defn.description,
            is_sensitive=defn.sensitive,
        )
        row.value = values.get(key, defn.default)
        out.append(row)
    return out
