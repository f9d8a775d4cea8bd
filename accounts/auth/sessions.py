"""Sessions (contract §2.2, §13.2): one row per sign-in, its refresh token (stored hashed,
rotated, reuse detected), revocation (sockets closed, a page session ended with it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.core.devices import parse_device
from accounts.core.tokens import AccessToken, issue_access_token
from accounts.models import RotatedRefreshToken, User, UserSession
from config import realtime
from config.errors import DomainError, NotFound, TokenExpired, TokenInvalid, Unauthorized
from config.net import parse_ip, request_client_ip
from security.crypto import new_token, token_hash, token_hash_candidates
from security.services import audit_record
from security.system_settings import get_setting


class AccountInactive(Unauthorized):
    code = "ACCOUNT_INACTIVE"
    default_message = "Account is inactive"


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


def _device_fields(meta: RequestMeta) -> dict[str, object]:
    ip = parse_ip(meta.ip)
    return {"ip_address": str(ip) if ip else None, **parse_device(meta.user_agent).as_fields()}


def _session_lifetime() -> timedelta:
    return timedelta(minutes=int(get_setting("session_timeout_minutes")))


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
    problem: DomainError | None = None
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
    if reused or problem is None:  # raised after the commit: the revocation must stick
        raise TokenInvalid("Refresh token was already used; the session has been revoked")
    if (
        isinstance(problem, TokenExpired)
        and session.original_user_id
        and session.revoked_at is None
    ):
        _revoke(session, reason="impersonation_expired")
    raise problem


def _refresh_problem(session: UserSession, now: datetime) -> DomainError | None:
    if session.revoked_at is not None:
        return TokenInvalid("Session has been revoked")
    if session.expires_at <= now:
        return TokenExpired("Refresh token has expired")
    user = session.user
    if user.deleted_at is not None:
        return TokenInvalid("Invalid refresh token")
    if not user.is_active:
        return AccountInactive()
    if session.original_user_id and session.created_at < now - timedelta(hours=1):
        return TokenExpired("Impersonation has ended")
    return None


def _rotate(session: UserSession, presented: str, now: datetime, meta: RequestMeta) -> SignIn:
    RotatedRefreshToken.objects.get_or_create(
        token_hash=token_hash(presented), defaults={"session": session, "rotated_at": now}
    )
    refresh = new_token(32)
    session.refresh_token_hash = token_hash(refresh)
    session.last_active_at = now
    session.expires_at = now + _session_lifetime()
    ip = parse_ip(meta.ip)
    if ip:
        session.ip_address = str(ip)
    session.save(update_fields=["refresh_token_hash", "last_active_at", "expires_at", "ip_address"])
    lifetime = None
    if session.original_user_id:  # impersonation ends one hour after it started, tokens too
        ends = session.created_at + timedelta(hours=1)
        lifetime = max(timedelta(seconds=1), min(ends - now, _access_lifetime()))
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
        live = UserSession.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
        if except_session_id is not None:
            live = live.exclude(pk=except_session_id)
        sessions = list(live)
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
