"""Outgoing email: the SMTP system settings when `smtp_enabled`, else the EMAIL_URL backend."""

from __future__ import annotations

from email.utils import formataddr

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from config.runtime import runtime_setting as get_setting


def mail_connection(*, fail_silently: bool = False) -> BaseEmailBackend:
    if get_setting("smtp_enabled"):
        port = int(get_setting("smtp_port"))
        return get_connection(
            "django.core.mail.backends.smtp.EmailBackend",
            host=get_setting("smtp_host"),
            port=port,
            username=get_setting("smtp_user") or None,
            password=get_setting("smtp_password") or None,
            use_ssl=port == 465,
            use_tls=port == 587,
            timeout=10,
            fail_silently=fail_silently,
        )
    return get_connection(fail_silently=fail_silently)


def from_address() -> str:
    if get_setting("smtp_enabled"):
        return formataddr((get_setting("smtp_from_name"), get_setting("smtp_from_email")))
    return settings.DEFAULT_FROM_EMAIL
