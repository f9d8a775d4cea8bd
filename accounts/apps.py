from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from allauth.socialaccount.signals import social_account_removed

        # allauth's connections page deletes the identity itself and offers only this signal
        # (no adapter hook); Keel's bookkeeping for it lives in accounts.auth.oauth.
        social_account_removed.connect(_social_account_removed, dispatch_uid="keel-oauth-unlink")


def _social_account_removed(sender: object, socialaccount: Any, **kwargs: object) -> None:
    from accounts.auth.oauth import oauth_after_disconnect

    oauth_after_disconnect(user=socialaccount.user, provider=socialaccount.provider)
