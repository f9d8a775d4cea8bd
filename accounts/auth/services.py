"""Authentication writes: registration, sign-in (contract §2.1), sessions and refresh (§2.2),
logout (§2.4), lockout (§13.3). Each audits and publishes where the contract says."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.core.devices import parse_device
from accounts.core.tokens import AccessToken, blacklist, issue_access_token, peek_claims
from accounts.core.validators import password_problems
from accounts.models import (
    AuthMethod,
    FailureReason,
    LoginHistory,
    Role,
    RotatedRefreshToken,
    User,
    UserSession,
)
from config import metrics, realtime
from config.errors import (
    Conflict,
    DomainError,
    Forbidden,
    TokenExpired,
    TokenInvalid,
    Unauthorized,
    ValidationFailed,
)
from config.net import parse_ip, request_client_ip
from security.crypto import new_token, token_hash, token_hash_candidates
from security.services import audit_record
from security.system_settings import get_setting

INVALID_CREDENTIALS = "Invalid email or password"
_DUMMY_HASH = make_password("keel-timing-equaliser")
FAILURE_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class RequestMeta:
    """Where a sign-in comes from (client IP, user agent), taken from the request by the views
    (API, pages, allauth adapters) and handed to the services."""

    ip: str | None
    user_agent: str

    @classmethod
    def of(cls, request: HttpRequest) -> RequestMeta:
        return cls(
            ip=request_client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )


@dataclass(frozen=True)
class SignIn:
    user: User
    session: UserSession
    access: AccessToken
    refresh_token: str


class AccountLocked(DomainError):
    status = 429
    code = "ACCOUNT_LOCKED"


class AccountInactive(Unauthorized):
    code = "ACCOUNT_INACTIVE"
    default_message = "Account is inactive"


def _device_fields(meta: RequestMeta) -> dict[str, object]:
    ip = parse_ip(meta.ip)
    return {"ip_address": str(ip) if ip else None, **parse_device(meta.user_agent).as_fields()}


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


def _session_lifetime() -> timedelta:
    return timedelta(minutes=int(get_setting("session_timeout_minutes")))


def validate_password(password: str, field: str = "password") -> None:
    problems = password_problems(password)
    if problems:
        raise ValidationFailed(
            problems[0],
            field=field,
            details=[{"field": field, "message": p, "code": "password_policy"} for p in problems],
        )


# --- Sessions ---------------------------------------------------------------------------------


def session_create(
    *, user: User, meta: RequestMeta, method: str, original_user: User | None = None
) -> SignIn:
    """Start a sign-in: a session row holding the refresh token's hash, and an access token."""
    refresh = new_token(32)
    now = timezone.now()
    session = UserSession.objects.create(
        user=user,
        refresh_token_hash=token_hash(refresh),
        auth_method=method,
        expires_at=now + _session_lifetime(),
        last_active_at=now,
        original_user=original_user,
        **_device_fields(meta),
    )
    access = issue_access_token(
        user=user,
        session_id=session.pk,
        original_user_id=original_user.pk if original_user else None,
    )
    return SignIn(user=user, session=session, access=access, refresh_token=refresh)


def session_refresh(*, refresh_token: str, meta: RequestMeta) -> SignIn:
    """Rotate a refresh token (contract §2.2). Reuse of a rotated token revokes the session,
    except within REFRESH_REUSE_GRACE_SECONDS of its rotation (parallel refreshes)."""
    if not refresh_token:
        raise Unauthorized("Refresh token required")
    hashes = token_hash_candidates(refresh_token)
    now = timezone.now()
    with transaction.atomic():
        session = (
            UserSession.objects.select_for_update().filter(refresh_token_hash__in=hashes).first()
        )
        reused = False
        if session is None:
            rotated = RotatedRefreshToken.objects.filter(token_hash__in=hashes).first()
            if rotated is None:
                raise TokenInvalid("Invalid refresh token")
            session = UserSession.objects.select_for_update().get(pk=rotated.session_id)
            grace = timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS)
            # A parallel refresh from the same client within the grace period is rotated again.
            reused = session.revoked_at is None and not (
                grace and now - rotated.rotated_at <= grace
            )
            if reused:
                _revoke(session, reason="refresh_token_reuse")
                audit_record(
                    actor=session.user,
                    action="refresh_token_reuse",
                    target_type="session",
                    target_id=session.pk,
                )
        if not reused:
            problem = _refresh_problem(session, now)
            if problem is None:
                return _rotate(session, refresh_token, now, meta)
    if reused:  # raised after the commit: the revocation must stick
        raise TokenInvalid("Refresh token was already used; the session has been revoked")
    if (
        isinstance(problem, TokenExpired)
        and session.original_user_id
        and session.revoked_at is None
    ):
        _revoke(session, reason="impersonation_expired")
    raise problem


def _refresh_problem(session: UserSession, now: object) -> DomainError | None:
    if session.revoked_at is not None:
        return TokenInvalid("Session has been revoked")
    if session.expires_at <= now:  # type: ignore[operator]
        return TokenExpired("Refresh token has expired")
    user = session.user
    if user.deleted_at is not None:
        return TokenInvalid("Invalid refresh token")
    if not user.is_active:
        return AccountInactive()
    if session.original_user_id and session.created_at < now - timedelta(hours=1):  # type: ignore[operator]
        return TokenExpired("Impersonation has ended")
    return None


def _rotate(session: UserSession, presented: str, now: object, meta: RequestMeta) -> SignIn:
    RotatedRefreshToken.objects.get_or_create(
        token_hash=token_hash(presented), defaults={"session": session, "rotated_at": now}
    )
    refresh = new_token(32)
    session.refresh_token_hash = token_hash(refresh)
    session.last_active_at = now
    session.expires_at = now + _session_lifetime()  # type: ignore[operator]
    ip = parse_ip(meta.ip)
    if ip:
        session.ip_address = str(ip)
    session.save(update_fields=["refresh_token_hash", "last_active_at", "expires_at", "ip_address"])
    lifetime = None
    if session.original_user_id:  # impersonation ends one hour after it started, tokens too
        ends = session.created_at + timedelta(hours=1)
        lifetime = max(timedelta(seconds=1), min(ends - now, _access_lifetime()))  # type: ignore[operator]
    access = issue_access_token(
        user=session.user,
        session_id=session.pk,
        original_user_id=session.original_user_id,
        lifetime=lifetime,
    )
    return SignIn(user=session.user, session=session, access=access, refresh_token=refresh)


def _access_lifetime() -> timedelta:
    return timedelta(minutes=settings.ACCESS_TOKEN_EXPIRATION_MINUTES)


def _revoke(session: UserSession, *, reason: str) -> None:
    session.revoked_at = timezone.now()
    session.revoked_reason = reason
    session.save(update_fields=["revoked_at", "revoked_reason"])
    realtime.close_session_sockets(session.pk)
    if session.django_session_key:  # a page sign-in: end the browser's Django session too
        key = session.django_session_key
        transaction.on_commit(lambda: _session_store(key).delete())


def _session_store(key: str) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=key)


def session_revoke(*, user: User, session_id: int, actor: User | None = None) -> UserSession:
    """Revoke one of the user's sessions (404 if it is not theirs or not live)."""
    from config.errors import NotFound

    with transaction.atomic():
        session = (
            UserSession.objects.select_for_update()
            .filter(pk=session_id, user=user, revoked_at__isnull=True)
            .first()
        )
        if session is None:
            raise NotFound("Session not found")
        _revoke(session, reason="revoked")
        audit_record(
            actor=actor or user,
            action="session_revoke",
            target_type="session",
            target_id=session.pk,
        )
        realtime.publish_to_user(user.pk, "user_update", {"field": "sessions"})
    return session


def sessions_revoke_all(
    *, user: User, except_session_id: int | None = None, reason: str = "revoked"
) -> int:
    """Revoke every live session of the user but one; returns how many."""
    with transaction.atomic():
        sessions = list(
            UserSession.objects.select_for_update()
            .filter(user=user, revoked_at__isnull=True)
            .exclude(pk=except_session_id)
        )
        for session in sessions:
            _revoke(session, reason=reason)
        if sessions:
            audit_record(
                actor=user,
                action="sessions_revoke",
                target_type="user",
                target_id=user.pk,
                metadata={"count": len(sessions), "reason": reason},
            )
            realtime.publish_to_user(user.pk, "user_update", {"field": "sessions"})
    return len(sessions)


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
                from accounts.auth import verification

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
        raise _locked(user.locked_until)
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
            from accounts.core import tasks

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
    from accounts.auth import two_factor

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
            import_module("accounts.privacy.services").account_deletion_cancelled_notify(
                user_id=user.pk
            )
        if alert and not known_device and not first_sign_in:
            from accounts.core import tasks

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


def _locked(until: object) -> AccountLocked:
    seconds = max(1, int((until - timezone.now()).total_seconds()))  # type: ignore[operator]
    minutes = max(1, math.ceil(seconds / 60))
    return AccountLocked(
        "Account is temporarily locked due to too many failed login attempts. "
        f"Try again in {minutes} minutes",
        retry_after=seconds,
    )


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
    from accounts.core import tasks

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
        if user is None and claims:
            user = User.objects.filter(pk=claims.get("user_id")).first()
        if user is not None:
            audit_record(actor=user, action="logout", target_type="user", target_id=user.pk)
