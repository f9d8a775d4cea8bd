from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class PlatformConfig(AppConfig):
    """Cross-cutting plumbing: errors, middleware, health, real-time, jobs, pages."""

    name = "config"
    label = "platform"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config import checks, jobs, metrics, openapi  # noqa: F401  (checks, signals, metrics, schema)

        jobs.connect_signals()
        post_migrate.connect(_sync_schedules, sender=self, dispatch_uid="keel-sync-schedules")


class KeelAdminConfig(AdminConfig):
    default_site = "config.admin_site.KeelAdminSite"


def _sync_schedules(sender: AppConfig, using: str = "default", **kwargs: object) -> None:
    """Schedules declared in code exist after every `migrate` (idempotent)."""
    from config.jobs import sync_schedules

    sync_schedules()
