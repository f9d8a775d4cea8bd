"""Usage metering (contract §6): events, monthly periods with their totals and limits, and the
80/90/100 % alerts. Every row belongs to one scope: a user (personal plan) or an organization
(org plan), never both."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from organizations.models import Organization

# The metrics that are totalled and limited (contract §6.1): event type -> total key.
METRICS: dict[str, str] = {
    "api_call": "api_calls",
    "storage": "storage_bytes",
    "compute": "compute_ms",
    "file_upload": "file_uploads",
}
TOTAL_KEYS = tuple(METRICS.values())

_ONE_SCOPE = Q(user__isnull=False, organization__isnull=True) | Q(
    user__isnull=True, organization__isnull=False
)


class UsageEvent(models.Model):
    """One recorded event, or (`resource="api"`) the API calls of a scope folded from the
    buffer in one row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event_type = models.CharField(max_length=50)
    resource = models.CharField(max_length=255)
    quantity = models.BigIntegerField(default=1)
    unit = models.CharField(max_length=20, default="count")
    metadata = models.JSONField(default=dict, blank=True)
    # NULL: sent without an id (never a duplicate); "" would collide under the constraints.
    client_event_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_ONE_SCOPE, name="usage_event_one_scope"),
            # A client's id de-duplicates per scope, forever (contract §6.2).
            models.UniqueConstraint(
                fields=["user", "client_event_id"],
                condition=Q(organization__isnull=True, client_event_id__isnull=False),
                name="usage_event_user_client_id",
            ),
            models.UniqueConstraint(
                fields=["organization", "client_event_id"],
                condition=Q(organization__isnull=False, client_event_id__isnull=False),
                name="usage_event_org_client_id",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "occurred_at"], name="usage_event_user_time"),
            models.Index(fields=["organization", "occurred_at"], name="usage_event_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} ×{self.quantity}"


class UsagePeriod(models.Model):
    """A scope's UTC calendar month: its totals (one column per metric, incremented in SQL so
    concurrent writers never lose a count), the limits of its plan, and whether one is
    exceeded."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    period_start = models.DateField()
    period_end = models.DateField()  # the month's last day
    api_calls = models.BigIntegerField(default=0)
    storage_bytes = models.BigIntegerField(default=0)
    compute_ms = models.BigIntegerField(default=0)
    file_uploads = models.BigIntegerField(default=0)
    limits = models.JSONField(default=dict, blank=True)  # total key -> limit, from the plan
    limits_exceeded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_ONE_SCOPE, name="usage_period_one_scope"),
            models.UniqueConstraint(
                fields=["user", "period_start"],
                condition=Q(organization__isnull=True),
                name="usage_period_user_month",
            ),
            models.UniqueConstraint(
                fields=["organization", "period_start"],
                condition=Q(organization__isnull=False),
                name="usage_period_org_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m}"

    def totals(self) -> dict[str, int]:
        return {key: int(getattr(self, key)) for key in TOTAL_KEYS}


class AlertType(models.TextChoices):
    WARNING_80 = "warning_80", "80 %"
    WARNING_90 = "warning_90", "90 %"
    EXCEEDED = "exceeded", "Exceeded"


class UsageAlert(models.Model):
    """Sent once per scope, alert type, metric and period (the unique constraints)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    alert_type = models.CharField(max_length=20, choices=AlertType.choices)
    usage_type = models.CharField(max_length=50)  # the event type: api_call, storage, …
    current_usage = models.BigIntegerField()
    usage_limit = models.BigIntegerField()
    percentage_used = models.IntegerField()
    period_start = models.DateField()
    period_end = models.DateField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=_ONE_SCOPE, name="usage_alert_one_scope"),
            models.UniqueConstraint(
                fields=["user", "alert_type", "usage_type", "period_start"],
                condition=Q(organization__isnull=True),
                name="usage_alert_user_once",
            ),
            models.UniqueConstraint(
                fields=["organization", "alert_type", "usage_type", "period_start"],
                condition=Q(organization__isnull=False),
                name="usage_alert_org_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert_type} {self.usage_type}"

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class UsageFoldBatch(models.Model):
    """A buffer batch folded into the periods: a fold that crashed after its commit but before
    the batch was removed from Redis finds it here and does not count it twice."""

    name = models.CharField(max_length=200, unique=True)
    folded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
