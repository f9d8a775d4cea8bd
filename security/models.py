from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class SettingCategory(models.TextChoices):
    SITE = "site", "Site"
    SECURITY = "security", "Security"
    EMAIL = "email", "Email"
    RATELIMIT = "ratelimit", "Rate limits"
    USAGE = "usage", "Usage"


class SystemSetting(models.Model):
    """A runtime setting (contract §13.9). Definitions (type, default, range) live in code,
    in `security.system_settings.DEFINITIONS`; this row holds the current value."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField(null=True, blank=True)
    category = models.CharField(max_length=20, choices=SettingCategory.choices, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    is_sensitive = models.BooleanField(default=False)
    is_customized = models.BooleanField(
        default=False,
        help_text="Set once changed by staff; a customized setting beats the env variable.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "key"]

    def __str__(self) -> str:
        return self.key


class AuditLog(models.Model):
    """Who did what to which object, from where (contract §13.10). Written only by
    `security.services.audit_record`."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_logs",
    )
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=50, db_index=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    changes = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["actor", "-created_at"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class BlockType(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTO_RATE_LIMIT = "auto_rate_limit", "Automatic (rate limit)"
    AUTO_BRUTE_FORCE = "auto_brute_force", "Automatic (brute force)"
    AUTO_SUSPICIOUS = "auto_suspicious", "Automatic (suspicious)"


def block_network(address: str | None, cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """What a block covers: its range, else its one address (a row has one of them)."""
    return ipaddress.ip_network(cidr or str(address), strict=False)


class IPBlock(models.Model):
    """A blocked address (`ip_address`) or network (`ip_range`, CIDR), IPv4 or IPv6."""

    ip_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    ip_range = models.CharField(
        max_length=64, blank=True, help_text="CIDR, e.g. 203.0.113.0/24 or 2001:db8::/32"
    )
    reason = models.CharField(max_length=255, blank=True)
    block_type = models.CharField(
        max_length=20, choices=BlockType.choices, default=BlockType.MANUAL
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True, db_index=True)
    hit_count = models.PositiveBigIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "IP block"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(ip_address__isnull=True, ip_range=""),
                name="ipblock_has_address_or_range",
            )
        ]

    def __str__(self) -> str:
        return self.ip_range or str(self.ip_address)

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        if self.ip_range:
            return ipaddress.ip_network(self.ip_range, strict=False)
        return ipaddress.ip_network(str(self.ip_address))

    @property
    def is_live(self) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > timezone.now())


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    """A stored response for `Idempotency-Key` replays (contract §0.10)."""

    principal = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(
        max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=512)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"], name="idempotency_unique_principal_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.principal}:{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {"principal": self.principal, "key": self.key, "state": self.state}
