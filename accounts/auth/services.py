"""Authentication writes: registration, sign-in (contract §2.1), logout (§2.4), lockout
(§13.3), password changes; sessions and refresh live in `accounts.auth.sessions`. Each audits
and publishes where the contract says."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.auth import two_factor, verification
from accounts.auth.sessions import (
    AccountInactive,
    RequestMeta,
    SignIn,
    _device_fields,
    _revoke,
    session_create,
    sessions_revoke_all,
)
from accounts.core import tasks
from accounts.core.devices import parse_device
from accounts.core.lockout import AccountLocked, locked_error
from accounts.core.tokens import blacklist, peek_claims
from accounts.core.validators import validate_password
from accounts.models import (
    AuthMethod,
    FailureReason,
    LoginHistory,
    Role,
    User,
    UserSession,
)
from config import metrics, realtime
from config.errors import (
    Conflict,
    Forbidden,
    Unauthorized,
)
from security.crypto import token_hash_candidates
from security.services import audit_record
from security.system_settings import get_setting

INVALID_CREDENTIALS = "Invalid email or password"
_DUMMY_HASH = make_password("keel-timing-equaliser")
FAILURE_WINDOW = timedelta(minutes=15)


def _history(
    user: User, meta: RequestMeta, *, success: bool, reason: str = "", method: str
) -> None:
    LoginHistory.objects.create(
        user=user,
        success=success,
        failure_reason=reason,
        auth_method=method,
        **_device_fields(meta),
    )
    metrics.AUTHENTICATIONS.labels(method=method, result="success" if success else reason).inc()


# --- Registration and sign-in -----------------------------------------------------------------


def user_create(
    *,
    email: str,
    password: str | None,
    name: str = "",
    role: str = Role.USER,
    email_verified: bool = False,
    actor: User | None = None,
    action: str = "register",
) -> User:
    """Create an account (API and page sign-up, OAuth, staff). Sends the verification email
    unless the address is already verified or verification is off."""
    email = User.objects.normalize_email(email)
    if password is not None:
        validate_password(password)
    if User.objects.filter(email__iexact=email).exists():
        raise Conflict("An account with this email already exists", field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email,
                password,
                name=name.strip(),
                role=role,
                email_verified=email_verified,
                email_verified_at=timezone.now() if email_verified else None,
            )
            audit_record(actor=actor or user, action=action, target_type="user", target_id=user.pk)
            if not email_verified and settings.EMAIL_VERIFICATION != "none":
                verification.email_verification_send(user=user)
    except IntegrityError:  # a concurrent registration won the race
        raise Conflict("An account with this email already exists", field="email") from None
    return user


def user_register(*, name: str, email: str, password: str, meta: RequestMeta) -> SignIn:
    """Self-service sign-up through the API: create the account and sign it in."""
    if not get_setting("allow_registration"):
        raise Forbidden("Registration is currently disabled")
    with transaction.atomic():
        user = user_create(email=email, password=password, name=name)
        return sign_in_complete(user=user, meta=meta, method=AuthMethod.PASSWORD, alert=False)


def credentials_check(*, email: str, password: str, meta: RequestMeta) -> User:
    """Steps 1-4 of the login algorithm (contract §2.1): the account, its lockout, the password
    (counting failures) and whether it is active. Writes login history for failures."""
    email = User.objects.normalize_email(email)
    user = User.objects.alive().filter(email__iexact=email).first()
    if user is None:
        _equalise_timing(password)
        raise Unauthorized(INVALID_CREDENTIALS)
    now = timezone.now()
    if user.locked_until and user.locked_until > now:
        _history(
            user,
            meta,
            success=False,
            reason=FailureReason.ACCOUNT_LOCKED,
            method=AuthMethod.PASSWORD,
        )
        raise locked_error(user.locked_until)
    if not user.check_password(password):
        locked = _count_failure(user)
        _history(
            user,
            meta,
            success=False,
            reason=FailureReason.INVALID_PASSWORD,
            method=AuthMethod.PASSWORD,
        )
        if locked:
            audit_record(actor=user, action="account_locked", target_type="user", target_id=user.pk)

            tasks.send_account_locked_email.enqueue(user_id=user.pk, ip_address=meta.ip or "")
        raise Unauthorized(INVALID_CREDENTIALS)
    if not user.is_active:
        _history(
            user,
            meta,
            success=False,
            reason=FailureReason.ACCOUNT_INACTIVE,
            method=AuthMethod.PASSWORD,
        )
        raise AccountInactive()
    return user


def second_factor_check(*, user: User, otp_code: str | None, meta: RequestMeta) -> str:
    """Step 5 (contract §2.1): the TOTP or backup code of a user with 2FA. Returns the sign-in
    method to record (`password` without 2FA, `2fa` with it)."""

    if not two_factor.two_factor_enabled(user):
        return AuthMethod.PASSWORD
    if not otp_code:
        raise two_factor.OTPRequired()
    try:
        two_factor.otp_verify(user=user, code=otp_code, error=two_factor.OTPInvalid)
    except AccountLocked:
        _history(
            user,
            meta,
            success=False,
            reason=FailureReason.ACCOUNT_LOCKED,
            method=AuthMethod.TWO_FACTOR,
        )
        raise
    except two_factor.OTPInvalid:
        _history(
            user,
            meta,
            success=False,
            reason=FailureReason.TWO_FACTOR_FAILED,
            method=AuthMethod.TWO_FACTOR,
        )
        raise
    return AuthMethod.TWO_FACTOR


def sign_in_complete(
    *,
    user: User,
    meta: RequestMeta,
    method: str,
    django_session_key: str = "",
    alert: bool = True,
) -> SignIn:
    """Step 6 (contract §2.1), shared by the API, the pages and OAuth: reset the failure
    counters, open a session, record the sign-in, cancel a pending deletion, and email a
    new-device alert when this device has not signed in before."""
    now = timezone.now()
    with transaction.atomic():
        device = parse_device(meta.user_agent)
        known_device = LoginHistory.objects.filter(
            user=user,
            success=True,
            browser=device.browser,
            os=device.os,
            device_type=device.device_type,
        ).exists()
        first_sign_in = not LoginHistory.objects.filter(user=user, success=True).exists()
        user.failed_login_attempts, user.last_failed_login, user.locked_until = 0, None, None
        sign_in = session_create(user=user, meta=meta, method=method)
        if django_session_key:
            sign_in.session.django_session_key = django_session_key
            sign_in.session.save(update_fields=["django_session_key"])
        user.last_login_at, user.last_login_ip = now, sign_in.session.ip_address
        user.last_login = now
        fields = [
            "failed_login_attempts",
            "last_failed_login",
            "locked_until",
            "last_login_at",
            "last_login_ip",
            "last_login",
            "updated_at",
        ]
        cancelled_deletion = user.deletion_requested_at is not None
        if cancelled_deletion:
            user.deletion_requested_at = user.deletion_scheduled_at = None
            user.deletion_reason = ""
            fields += ["deletion_requested_at", "deletion_scheduled_at", "deletion_reason"]
        user.save(update_fields=fields)
        history = LoginHistory.objects.create(
            user=user, success=True, auth_method=method, **_device_fields(meta)
        )
        metrics.AUTHENTICATIONS.labels(method=method, result="success").inc()
        audit_record(
            actor=user,
            action="login",
            target_type="user",
            target_id=user.pk,
            metadata={"method": method, "session_id": sign_in.session.pk},
        )
        if cancelled_deletion:
            audit_record(
                actor=user, action="deletion_cancelled", target_type="user", target_id=user.pk
            )
            account_deletion_cancelled_notify(user_id=user.pk)
        if alert and not known_device and not first_sign_in:
            tasks.send_login_alert_email.enqueue(user_id=user.pk, history_id=history.pk)
    return sign_in


def auth_login(
    *, email: str, password: str, meta: RequestMeta, otp_code: str | None = None
) -> SignIn:
    """Contract §2.1: credentials, lockout, activity, second factor, then a new session."""
    user = credentials_check(email=email, password=password, meta=meta)
    method = second_factor_check(user=user, otp_code=otp_code, meta=meta)
    return sign_in_complete(user=user, meta=meta, method=method)


def _equalise_timing(password: str) -> None:
    """Spend as long on an unknown email as on a wrong password (no account enumeration)."""
    from django.contrib.auth.hashers import check_password

    check_password(password, _DUMMY_HASH)


def _count_failure(user: User) -> bool:
    """Lockout counting (§13.3); returns True when this failure locked the account."""
    now = timezone.now()
    with transaction.atomic():
        fresh = User.objects.select_for_update().get(pk=user.pk)
        if fresh.last_failed_login is None or fresh.last_failed_login < now - FAILURE_WINDOW:
            fresh.failed_login_attempts = 0
        fresh.failed_login_attempts += 1
        fresh.last_failed_login = now
        locked = fresh.failed_login_attempts >= int(get_setting("max_login_attempts"))
        if locked:
            fresh.locked_until = now + timedelta(
                minutes=int(get_setting("lockout_duration_minutes"))
            )
            fresh.failed_login_attempts = 0
        fresh.save(
            update_fields=[
                "failed_login_attempts",
                "last_failed_login",
                "locked_until",
                "updated_at",
            ]
        )
    return locked


def password_set(
    *, user: User, password: str, keep_session_id: int | None = None, ip: str = ""
) -> None:
    """Change a signed-in user's password (policy applies): every other session is signed out,
    the change is audited and `password_changed` is emailed."""

    validate_password(password)
    with transaction.atomic():
        user.set_password(password)
        user.last_password_change_at = timezone.now()
        user.save()
        sessions_revoke_all(user=user, except_session_id=keep_session_id, reason="password_change")
        audit_record(actor=user, action="password_change", target_type="user", target_id=user.pk)
        tasks.send_password_changed_email.enqueue(user_id=user.pk, ip_address=ip)


def page_session_end(*, user: User | None, session_id: int | None) -> None:
    """A browser signs out of the pages: revoke the session row bound to it."""
    if user is None or session_id is None:
        return
    with transaction.atomic():
        session = (
            UserSession.objects.select_for_update()
            .filter(pk=session_id, user=user, revoked_at__isnull=True)
            .first()
        )
        if session is not None:
            session.django_session_key = ""  # Django's logout flushes the session itself
            _revoke(session, reason="logout")
        audit_record(actor=user, action="logout", target_type="user", target_id=user.pk)


def auth_logout(*, access_token: str | None, refresh_token: str | None) -> None:
    """Revoke the current session (by refresh token, else the token's `sid`), blacklist the
    access token until it expires, close that session's sockets. Never fails."""
    session = None
    claims = peek_claims(access_token) if access_token else None
    if refresh_token:
        session = UserSession.objects.filter(
            refresh_token_hash__in=token_hash_candidates(refresh_token)
        ).first()
    if session is None and claims and isinstance(claims.get("sid"), int):
        session = UserSession.objects.filter(pk=claims["sid"]).first()
    with transaction.atomic():
        if session is not None and session.revoked_at is None:
            _revoke(session, reason="logout")
        if access_token and claims:
            blacklist(access_token, reason="logout", user_id=claims.get("user_id"))
        user = session.user if session else None
        claimed_id = claims.get("user_id") if claims else None
        if user is None and claimed_id is not None:
            user = User.objects.filter(pk=claimed_id).first()
        if user is not None:
            audit_record(actor=user, action="logout", target_type="user", target_id=user.pk)


def account_deletion_cancelled_notify(*, user_id: int) -> None:
    """Tell the user a scheduled deletion was cancelled (a `notification` event and the
    `account_deletion_cancelled` email). Also called when a sign-in cancels it."""

    realtime.publish_to_user(
        user_id,
        "notification",
        {
            "id": f"account_deletion_cancelled:{user_id}:{int(timezone.now().timestamp())}",
            "title": "Account deletion cancelled",
            "message": "Your account will not be deleted.",
            "type": "info",
            "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
            "data": {"category": "security", "link": "/settings/privacy/"},
        },
    )
    tasks.send_account_deletion_email.enqueue(user_id=user_id, kind="cancelled")
