from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "Security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_seed_settings, sender=self, dispatch_uid="keel-seed-system-settings")


def _seed_settings(sender: AppConfig, **kwargs: object) -> None:
    """Every defined system setting has a row after `migrate` (idempotent)."""
    from security.services import system_settings_seed

    system_settings_seed()
