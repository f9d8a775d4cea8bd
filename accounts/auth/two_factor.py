"""Two-factor authentication with django-otp (contract §3.4, §13.5): TOTP setup and
confirmation, single-use backup codes, disable, and the second-factor lockout (§13.3).

Secrets are encrypted at rest (security.crypto); backup codes are stored only as hashes.
Every state change audits, emails the user and publishes `user_update{field: "profile"}`.
"""

from __future__ import annotations

import base64
import io
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.core import tasks
from accounts.core.lockout import locked_error
from accounts.models import BackupCode, TOTPDevice, User
from config import realtime
from config.errors import BadRequest, Conflict, DomainError, Unauthorized
from security.crypto import encrypt, token_hash, token_hash_candidates
from security.services import audit_record
from security.system_settings import get_setting

BACKUP_CODE_COUNT = 10
BACKUP_CODE_ALPHABET = string.ascii_uppercase + string.digits
OTP_MAX_FAILURES = 5
OTP_LOCK = timedelta(minutes=15)
OTP_FAILURE_WINDOW = timedelta(minutes=15)


class OTPRequired(Unauthorized):
    code = "OTP_REQUIRED"
    default_message = "Two-factor authentication code required"


class OTPInvalid(Unauthorized):
    """A wrong code at sign-in (401)."""

    code = "OTP_INVALID"
    default_message = "Invalid two-factor authentication code"


class OTPInvalidInput(BadRequest):
    """A wrong code on /users/me/2fa/* (400: the React client must not try to refresh)."""

    code = "OTP_INVALID"
    default_message = "Invalid two-factor authentication code"


@dataclass(frozen=True)
class TOTPSetup:
    secret: str  # base32, for manual entry
    otpauth_url: str
    qr_png_base64: str
    qr_svg: str


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    backup_codes_remaining: int
    verified_at: object | None


# --- Reads ------------------------------------------------------------------------------------


def two_factor_enabled(user: User) -> bool:
    """Whether sign-ins need a second factor (the flag on the user mirrors the device)."""
    return user.two_factor_enabled


def two_factor_status(*, user: User) -> TwoFactorStatus:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    remaining = BackupCode.objects.filter(user=user, used_at__isnull=True).count() if device else 0
    return TwoFactorStatus(
        enabled=device is not None,
        backup_codes_remaining=remaining,
        verified_at=device.verified_at if device else None,
    )


def otpauth_url(*, user: User, secret_b32: str) -> str:
    issuer = settings.TOTP_ISSUER or str(get_setting("site_name"))
    label = quote(f"{issuer}:{user.email}", safe="@:")
    query = urlencode(
        {"secret": secret_b32, "issuer": issuer, "algorithm": "SHA1", "digits": 6, "period": 30}
    )
    return f"otpauth://totp/{label}?{query}"


# --- Codes ------------------------------------------------------------------------------------


def _normalise_backup(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _new_backup_codes(user: User) -> list[str]:
    BackupCode.objects.filter(user=user).delete()
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(BACKUP_CODE_ALPHABET) for _ in range(8))
        codes.append(f"{raw[:4]}-{raw[4:]}")
    BackupCode.objects.bulk_create(
        BackupCode(user=user, code_hash=token_hash(_normalise_backup(c))) for c in codes
    )
    return codes


def _code_matches(user: User, code: str, device: TOTPDevice, *, allow_backup: bool) -> bool:
    """A 6-digit TOTP (±1 step, no replay) or an unused backup code (consumed)."""
    code = code.strip()
    digits = code.replace(" ", "")
    if digits.isdigit() and len(digits) == 6:
        return device.verify_token(digits)
    normalised = _normalise_backup(code)
    if not allow_backup or len(normalised) != 8:
        return False
    used = BackupCode.objects.filter(
        user=user, code_hash__in=token_hash_candidates(normalised), used_at__isnull=True
    ).update(used_at=timezone.now())
    return used == 1


def _locked_error(until: datetime) -> DomainError:
    error = locked_error(until)
    error.message = (
        "Too many invalid two-factor codes. "
        f"Try again in {max(1, round((until - timezone.now()).total_seconds() / 60))} minutes"
    )
    return error


def otp_verify(
    *,
    user: User,
    code: str,
    error: type[DomainError] = OTPInvalidInput,
    device: TOTPDevice | None = None,
    allow_backup: bool = True,
) -> None:
    """Check a second-factor code for `user` (the confirmed device unless `device` is given).
    Wrong codes count toward the 2FA lockout: 5 within 15 minutes lock it for 15 minutes
    (429 ACCOUNT_LOCKED); a right code resets the count."""
    now = timezone.now()
    with transaction.atomic():
        fresh = User.objects.select_for_update().get(pk=user.pk)
        if fresh.otp_locked_until and fresh.otp_locked_until > now:
            raise _locked_error(fresh.otp_locked_until)
        device = device or TOTPDevice.objects.filter(user=fresh, confirmed=True).first()
        if device is None:
            raise BadRequest("Two-factor authentication is not enabled")
        if code and _code_matches(fresh, code, device, allow_backup=allow_backup):
            if fresh.otp_failed_attempts:
                fresh.otp_failed_attempts, fresh.otp_last_failed_at = 0, None
                fresh.save(update_fields=["otp_failed_attempts", "otp_last_failed_at"])
            return
        if fresh.otp_last_failed_at is None or fresh.otp_last_failed_at < now - OTP_FAILURE_WINDOW:
            fresh.otp_failed_attempts = 0
        fresh.otp_failed_attempts += 1
        fresh.otp_last_failed_at = now
        locked = fresh.otp_failed_attempts >= OTP_MAX_FAILURES
        if locked:
            fresh.otp_locked_until = now + OTP_LOCK
            fresh.otp_failed_attempts = 0
        fresh.save(update_fields=["otp_failed_attempts", "otp_last_failed_at", "otp_locked_until"])
        if locked:
            audit_record(
                actor=fresh, action="two_factor_locked", target_type="user", target_id=fresh.pk
            )
    # Raised after the commit so the failure count sticks.
    raise error()


# --- Writes -----------------------------------------------------------------------------------


def two_factor_setup(*, user: User) -> TOTPSetup:
    """Start enrolment: a new 160-bit secret on an unconfirmed device (replacing an earlier
    unconfirmed one). 409 when 2FA is already on."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise Conflict("Two-factor authentication is already enabled")
        TOTPDevice.objects.filter(user=user).delete()
        secret = secrets.token_bytes(20)
        TOTPDevice.objects.create(
            user=user,
            name="Authenticator app",
            confirmed=False,
            encrypted_secret=encrypt(secret.hex()),
        )
    return _setup_for(user, secret)


def _setup_for(user: User, secret: bytes) -> TOTPSetup:
    """What an authenticator app needs: base32 secret, otpauth:// URI, QR as PNG and SVG."""
    secret_b32 = base64.b32encode(secret).decode().rstrip("=")
    url = otpauth_url(user=user, secret_b32=secret_b32)
    qr = segno.make(url, error="m")
    png = io.BytesIO()
    qr.save(png, kind="png", scale=6, border=2)
    return TOTPSetup(
        secret=secret_b32,
        otpauth_url=url,
        qr_png_base64=base64.b64encode(png.getvalue()).decode(),
        qr_svg=qr.svg_inline(scale=5, dark="#0f172a", light="#ffffff"),
    )


def totp_setup_pending(*, user: User) -> TOTPSetup | None:
    """The QR code of an unconfirmed setup (for re-rendering the enrolment page)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        return None
    return _setup_for(user, device.secret)


def _notify(user: User, *, action: str, template: str, ip: str) -> None:
    audit_record(actor=user, action=action, target_type="user", target_id=user.pk)
    realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})

    tasks.send_security_email.enqueue(user_id=user.pk, template=template, ip_address=ip)


def two_factor_enable(*, user: User, code: str, ip: str = "") -> list[str]:
    """Confirm the pending setup with a current code; returns 10 new backup codes (shown once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise Conflict("Two-factor authentication is already enabled")
        raise BadRequest("No pending two-factor setup; start with /users/me/2fa/setup")
    otp_verify(user=user, code=code, device=device, allow_backup=False)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        device = TOTPDevice.objects.filter(pk=device.pk, confirmed=False).first()
        if device is None:  # a concurrent request confirmed it first (and got the codes)
            raise Conflict("Two-factor authentication is already enabled")
        device.confirmed = True
        device.verified_at = timezone.now()
        device.save(update_fields=["confirmed", "verified_at"])
        codes = _new_backup_codes(user)
        user.two_factor_enabled = True
        user.save(update_fields=["two_factor_enabled", "updated_at"])
        _notify(user, action="two_factor_enable", template="two_factor_enabled", ip=ip)
    return codes


def two_factor_disable(*, user: User, code: str, ip: str = "") -> None:
    """Turn 2FA off with a current TOTP or a backup code."""
    otp_verify(user=user, code=code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        BackupCode.objects.filter(user=user).delete()
        user.two_factor_enabled = False
        user.save(update_fields=["two_factor_enabled", "updated_at"])
        _notify(user, action="two_factor_disable", template="two_factor_disabled", ip=ip)


def backup_codes_regenerate(*, user: User, code: str) -> list[str]:
    """Replace every backup code (the old ones stop working)."""
    otp_verify(user=user, code=code)
    with transaction.atomic():
        codes = _new_backup_codes(user)
        audit_record(
            actor=user, action="backup_codes_regenerate", target_type="user", target_id=user.pk
        )
    return codes


def two_factor_reset(*, user: User, actor: User) -> None:
    """Staff remove a user's 2FA (lost device): they sign in with the password and enrol again."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        BackupCode.objects.filter(user=user).delete()
        user.two_factor_enabled = False
        user.save(update_fields=["two_factor_enabled", "updated_at"])
        audit_record(actor=actor, action="two_factor_reset", target_type="user", target_id=user.pk)
        realtime.publish_to_user(user.pk, "user_update", {"field": "profile"})

        tasks.send_security_email.enqueue(
            user_id=user.pk, template="two_factor_disabled", ip_address=""
        )
