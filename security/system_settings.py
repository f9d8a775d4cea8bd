"""Runtime system settings (contract §13.9): definitions in code, values in the database,
read through one cached accessor.

    from security.system_settings import get_setting
    get_setting("max_login_attempts")  # -> 5

Reads are served from a per-process copy for at most LOCAL_TTL seconds, then from the shared
cache (Redis in production), then from the database. Writes (security.services) clear the
shared copy and this process's copy, so a change is live here at once and in every other
process within LOCAL_TTL seconds — no restart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import DatabaseError

from config.errors import ValidationFailed

logger = logging.getLogger("keel.security")
LOCAL_TTL = 5.0
# Short on purpose: a reader that loaded old rows just before a write commits may store them
# after the writer's invalidation; they can then live at most this long.
SHARED_TTL = 5
CACHE_KEY = "security:system-settings:v1"
MASK = "********"
_EMAIL = EmailValidator()
_URL = URLValidator(schemes=["http", "https"])


@dataclass(frozen=True)
class Definition:
    key: str
    category: str
    type: str  # bool | int | str | email | url | choice
    default: Any
    description: str
    sensitive: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 255
    choices: tuple[str, ...] = field(default_factory=tuple)
    env: str | None = None  # environment fallback when the setting was never customized


DEFINITIONS: dict[str, Definition] = {
    d.key: d
    for d in [
        # email
        Definition("smtp_host", "email", "str", "localhost", "SMTP server host"),
        Definition("smtp_port", "email", "int", 587, "SMTP server port", minimum=1, maximum=65535),
        Definition("smtp_user", "email", "str", "", "SMTP user name"),
        Definition("smtp_password", "email", "str", "", "SMTP password", sensitive=True),
        Definition("smtp_from_email", "email", "email", "noreply@example.com", "Sender address"),
        Definition("smtp_from_name", "email", "str", "My App", "Sender name"),
        Definition(
            "smtp_enabled",
            "email",
            "bool",
            False,
            "Send through these SMTP settings (else EMAIL_URL)",
        ),
        # site
        Definition(
            "site_name", "site", "str", "My Application", "Product name shown in pages and emails"
        ),
        Definition("site_logo_url", "site", "url", "", "Logo URL"),
        Definition("site_description", "site", "str", "", "Short description", max_length=1000),
        Definition("contact_email", "site", "email", "", "Contact address"),
        Definition("support_url", "site", "url", "", "Support page URL"),
        Definition(
            "maintenance_mode",
            "site",
            "bool",
            False,
            "Answer non-staff requests with 503 MAINTENANCE",
        ),
        Definition(
            "maintenance_message",
            "site",
            "str",
            "We are performing scheduled maintenance. Please check back soon.",
            "Message shown during maintenance",
            max_length=1000,
        ),
        # security
        Definition(
            "password_min_length",
            "security",
            "int",
            8,
            "Minimum password length",
            minimum=6,
            maximum=128,
        ),
        Definition(
            "password_require_uppercase",
            "security",
            "bool",
            True,
            "Passwords need an uppercase letter",
        ),
        Definition(
            "password_require_lowercase",
            "security",
            "bool",
            True,
            "Passwords need a lowercase letter",
        ),
        Definition("password_require_number", "security", "bool", True, "Passwords need a digit"),
        Definition(
            "password_require_special",
            "security",
            "bool",
            False,
            "Passwords need a special character",
        ),
        Definition(
            "session_timeout_minutes",
            "security",
            "int",
            10080,
            "Refresh session lifetime",
            minimum=5,
            maximum=525600,
        ),
        Definition(
            "max_login_attempts",
            "security",
            "int",
            5,
            "Failed logins before lockout",
            minimum=1,
            maximum=100,
        ),
        Definition(
            "lockout_duration_minutes",
            "security",
            "int",
            15,
            "Lockout duration",
            minimum=1,
            maximum=10080,
        ),
        Definition(
            "require_2fa_for_admins",
            "security",
            "bool",
            False,
            "Staff must enable 2FA for admin access",
        ),
        Definition("allow_registration", "security", "bool", True, "Allow new sign-ups"),
        # ratelimit
        Definition(
            "rate_limit_login_per_minute",
            "ratelimit",
            "int",
            10,
            "Logins per IP per minute",
            minimum=1,
            maximum=100000,
        ),
        Definition(
            "rate_limit_register_per_minute",
            "ratelimit",
            "int",
            5,
            "Registrations per IP per minute",
            minimum=1,
            maximum=100000,
        ),
        Definition(
            "rate_limit_api_per_minute",
            "ratelimit",
            "int",
            100,
            "API requests per principal per minute",
            minimum=1,
            maximum=1000000,
            env="RATE_LIMIT_API_PER_MINUTE",
        ),
        Definition(
            "rate_limit_auto_block",
            "ratelimit",
            "bool",
            False,
            "Temporarily block IPs that keep hitting the auth rate limit",
        ),
        Definition(
            "rate_limit_auto_block_threshold",
            "ratelimit",
            "int",
            20,
            "Rate-limited auth requests (per IP, 10 minutes) before an automatic block",
            minimum=1,
            maximum=100000,
        ),
        Definition(
            "rate_limit_auto_block_minutes",
            "ratelimit",
            "int",
            60,
            "Duration of an automatic block",
            minimum=1,
            maximum=525600,
        ),
        # usage
        Definition(
            "usage_enforcement",
            "usage",
            "choice",
            "off",
            "Refuse requests over plan limits: off, api_calls or all",
            choices=("off", "api_calls", "all"),
        ),
    ]
}

CATEGORIES = ("site", "security", "email", "ratelimit", "usage")

_lock = threading.Lock()
_local: dict[str, Any] | None = None
_local_loaded_at = 0.0


def definition(key: str) -> Definition:
    from config.errors import NotFound

    try:
        return DEFINITIONS[key]
    except KeyError:
        raise NotFound(f"Unknown setting: {key}") from None


def coerce(defn: Definition, raw: Any, field_name: str = "value") -> Any:
    """Validate and convert an incoming value to the setting's type, or raise ValidationFailed."""

    def fail(message: str, code: str = "invalid") -> ValidationFailed:
        return ValidationFailed.for_field(field_name, message, code)

    if defn.type == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
            return raw.strip().lower() == "true"
        raise fail("Must be true or false")
    if defn.type == "int":
        if isinstance(raw, bool):
            raise fail("Must be a whole number")
        if isinstance(raw, str) and re.fullmatch(r"-?\d{1,18}", raw.strip()):
            raw = int(raw.strip())
        if not isinstance(raw, int):
            raise fail("Must be a whole number")
        if defn.minimum is not None and raw < defn.minimum:
            raise fail(f"Must be at least {defn.minimum}", "min_value")
        if defn.maximum is not None and raw > defn.maximum:
            raise fail(f"Must be at most {defn.maximum}", "max_value")
        return raw
    if not isinstance(raw, str):
        raise fail("Must be a string")
    if "\x00" in raw:
        raise fail("Must not contain NUL characters")
    value = raw.strip()
    if len(value) > defn.max_length:
        raise fail(f"Must be at most {defn.max_length} characters", "max_length")
    if defn.type == "choice" and value not in defn.choices:
        raise fail(f"Must be one of: {', '.join(defn.choices)}", "invalid_choice")
    try:
        if defn.type == "email" and value:
            _EMAIL(value)
        if defn.type == "url" and value:
            _URL(value)
    except DjangoValidationError:
        raise fail(
            "Enter a valid email address" if defn.type == "email" else "Enter a valid URL"
        ) from None
    return value


def _effective(defn: Definition, stored: Any, customized: bool) -> Any:
    if not customized and defn.env and os.environ.get(defn.env):
        try:
            return coerce(defn, os.environ[defn.env])
        except ValidationFailed:
            return defn.default
    return defn.default if stored is None else stored


def _load_from_database() -> dict[str, Any]:
    from security.models import SystemSetting

    rows = {r.key: r for r in SystemSetting.objects.filter(key__in=list(DEFINITIONS))}
    values = {}
    for key, defn in DEFINITIONS.items():
        row = rows.get(key)
        values[key] = _effective(
            defn, row.value if row else None, row.is_customized if row else False
        )
    return values


def all_settings() -> dict[str, Any]:
    """Effective value of every setting (cached; see the module docstring)."""
    global _local, _local_loaded_at
    now = time.monotonic()
    values = _local
    if values is not None and now - _local_loaded_at < LOCAL_TTL:
        return values
    with _lock:
        if _local is not None and time.monotonic() - _local_loaded_at < LOCAL_TTL:
            return _local  # another thread refreshed it while this one waited
        values = cache.get(CACHE_KEY)
        if values is None:
            try:
                values = _load_from_database()
            except DatabaseError:
                # Keep serving: the last known values, else the defaults; retry on the next read.
                logger.warning(
                    "system settings unavailable; using last known values", exc_info=True
                )
                return _local or {k: d.default for k, d in DEFINITIONS.items()}
            cache.set(CACHE_KEY, values, timeout=SHARED_TTL)
        _local, _local_loaded_at = values, now
    return values


def get_setting(key: str) -> Any:
    values = all_settings()
    if key in values:
        return values[key]
    return definition(key).default


def invalidate() -> None:
    """Forget cached values everywhere (shared cache now; other processes within LOCAL_TTL)."""
    cache.delete(CACHE_KEY)
    invalidate_local()


def invalidate_local() -> None:
    global _local
    _local = None


def display_value(key: str, value: Any) -> Any:
    """The value as shown to staff (API, Django admin, audit entries): every sensitive value is
    masked, also an empty one (contract §11): whether a secret is set is told only where the
    contract says so (`smtp_password_set`)."""
    return MASK if DEFINITIONS[key].sensitive else value
