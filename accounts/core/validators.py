"""Password policy from system settings, read at runtime (contract §13.4)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.errors import ValidationFailed

MAX_LENGTH = 128


def password_problems(password: str) -> list[str]:
    """Every rule the password breaks, in the contract's wording."""
    from security.system_settings import get_setting

    problems = []
    minimum = int(get_setting("password_min_length"))
    if len(password) < minimum:
        problems.append(f"Password must be at least {minimum} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"Password must be at most {MAX_LENGTH} characters long")
    if get_setting("password_require_uppercase") and not re.search(r"[A-Z]", password):
        problems.append("Password must contain at least one uppercase letter")
    if get_setting("password_require_lowercase") and not re.search(r"[a-z]", password):
        problems.append("Password must contain at least one lowercase letter")
    if get_setting("password_require_number") and not re.search(r"\d", password):
        problems.append("Password must contain at least one number")
    if get_setting("password_require_special") and not re.search(r"[^A-Za-z0-9]", password):
        problems.append("Password must contain at least one special character")
    return problems


@extend_schema_field(
    {
        "type": "string",
        "maxLength": MAX_LENGTH,
        "description": "Checked against the password policy of the security settings (default: "
        f"8 to {MAX_LENGTH} characters with an upper-case letter, a lower-case letter and a "
        "digit); a refusal is a 400 naming each rule broken.",
    }
)
class NewPasswordField(serializers.CharField):
    """A password being set (register, reset, change): the policy itself is checked by the
    service, with the contract's messages; the schema documents it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=1024, trim_whitespace=False, **kwargs)


class PasswordPolicyValidator:
    """Django password validator backed by `password_problems` (used by forms and the admin)."""

    def validate(self, password: str, user: Any = None) -> None:
        problems = password_problems(password)
        if problems:
            raise ValidationError([ValidationError(p, code="password_policy") for p in problems])

    def get_help_text(self) -> str:
        from security.system_settings import get_setting

        minimum = get_setting("password_min_length")
        return f"At least {minimum} characters, following the site's policy."


def validate_password(password: str, field: str = "password") -> None:
    """The password policy (contract §13.4) as a 400 VALIDATION_ERROR listing every problem."""
    problems = password_problems(password)
    if problems:
        raise ValidationFailed(
            problems[0],
            field=field,
            details=[{"field": field, "message": p, "code": "password_policy"} for p in problems],
        )
