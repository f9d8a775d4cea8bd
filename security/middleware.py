"""The security app's places in the request pipeline (contract §0.13):

request id → client IP → **IPBlocklist** → CORS/security headers → **IPRateLimit** → body limit
→ sessions/auth → **Maintenance** → CSRF → **RouteRateLimit** → **Idempotency** → view
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape

from config import routes
from config.errors import DomainError, error_response, exception_to_response, is_api_path
from config.middleware.base import Middleware
from config.net import request_client_ip
from security import blocklist, idempotency, ratelimit
from security.principal import request_principal
from security.ratelimit import Decision

logger = logging.getLogger("keel.security")

BLOCKED_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Access denied</title></head>"
    "<body><h1>Access denied</h1><p>Requests from your network are blocked.</p>"
    "<p><small>Reference: {rid}</small></p></body></html>"
)


class IPBlocklistMiddleware(Middleware):
    """403 IP_BLOCKED for blocked addresses, before anything else (health and metrics excepted)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not routes.OPERATIONS.matches(request.path):
            block_id = blocklist.find_block(request_client_ip(request))
            if block_id is not None:
                blocklist.record_hit(block_id)
                logger.info("blocked request", extra={"block_id": block_id, "path": request.path})
                if is_api_path(request.path):
                    return error_response(403, "IP_BLOCKED", "Access denied")
                rid = escape(getattr(request, "request_id", ""))
                return HttpResponse(
                    BLOCKED_PAGE.format(rid=rid), status=403, content_type="text/html"
                )
        return self.get_response(request)


def _limited(request: HttpRequest, decision: Decision) -> HttpResponse:
    message = "Too many requests. Please try again later."
    if is_api_path(request.path):
        return error_response(429, "RATE_LIMITED", message, retry_after=decision.retry_after)
    response = render(request, "errors/429.html", {"retry_after": decision.retry_after}, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


def _record(request: HttpRequest, decision: Decision) -> None:
    decisions = getattr(request, "_ratelimit_decisions", None)
    if decisions is None:
        decisions = request._ratelimit_decisions = []  # type: ignore[attr-defined]  # Keel's own request attribute
    decisions.append(decision)


class IPRateLimitMiddleware(Middleware):
    """The `ip` tier for every request; also writes the X-RateLimit-* headers of the tightest
    tier that applied (including the route tiers decided further in)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not ratelimit.enabled() or routes.UNTHROTTLED.matches(request.path):
            return self.get_response(request)
        decision = ratelimit.hit(
            ratelimit.IP_TIER,
            ratelimit.ip_identity(request_client_ip(request)),
            ratelimit.limit_for(ratelimit.IP_TIER),
        )
        _record(request, decision)
        response = (
            _limited(request, decision) if not decision.allowed else self.get_response(request)
        )
        tightest = ratelimit.tightest(getattr(request, "_ratelimit_decisions", []))
        if tightest is not None:
            response["X-RateLimit-Limit"] = str(tightest.limit)
            response["X-RateLimit-Remaining"] = str(tightest.remaining)
            response["X-RateLimit-Reset"] = str(tightest.reset)
        return response


class MaintenanceMiddleware(Middleware):
    """Setting `maintenance_mode`: non-staff get 503 MAINTENANCE (API) or the maintenance page."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from security.system_settings import get_setting

        if routes.MAINTENANCE_OPEN.matches(request.path, request.method) or not get_setting(
            "maintenance_mode"
        ):
            return self.get_response(request)
        principal = request_principal(request)
        if principal is not None and principal.is_staff:
            return self.get_response(request)
        message = get_setting("maintenance_message")
        if is_api_path(request.path):
            return error_response(503, "MAINTENANCE", message, retry_after=300)
        response = render(request, "maintenance.html", {"message": message}, status=503)
        response["Retry-After"] = "300"
        return response


class RouteRateLimitMiddleware(Middleware):
    """The auth (per IP), api and user (per principal, else IP) tiers."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not ratelimit.enabled() or routes.UNTHROTTLED.matches(request.path):
            return self.get_response(request)
        # Sign-in pages count only their form posts: showing a form is not an attempt.
        page_view = request.method in ("GET", "HEAD") and not routes.API_ROUTES.matches(
            request.path
        )
        for tier in ratelimit.ROUTE_TIERS:
            if tier.group is None or page_view or not tier.group.matches(request.path):
                continue
            principal = request_principal(request) if tier.by_principal else None
            ip = ratelimit.ip_identity(request_client_ip(request))
            identity = principal.key if principal else f"ip:{ip}"
            decision = ratelimit.hit(tier, identity, ratelimit.limit_for(tier))
            if not decision.allowed:
                # A refused request counts nowhere: uncount the tiers that let it pass.
                for earlier in getattr(request, "_ratelimit_decisions", []):
                    ratelimit.undo(earlier)
                _record(request, decision)
                if tier is ratelimit.AUTH_TIER or tier is ratelimit.LOGIN_TIER:
                    _note_auth_abuse(request_client_ip(request))
                return _limited(request, decision)
            _record(request, decision)
        return self.get_response(request)


def _note_auth_abuse(ip: str) -> None:
    """Setting rate_limit_auto_block: block an IP (an IPv6 /64) that keeps hitting the auth
    limits."""
    from security.counters import counters
    from security.services import ip_block_auto
    from security.system_settings import get_setting

    if not get_setting("rate_limit_auto_block"):
        return
    identity = ratelimit.ip_identity(ip)
    strikes = counters().incr(f"rl:abuse:{identity}", ttl=600)
    if strikes == get_setting("rate_limit_auto_block_threshold"):
        try:
            ip_block_auto(
                target=identity,
                minutes=get_setting("rate_limit_auto_block_minutes"),
                reason=f"Automatic: {strikes} rate-limited auth requests within 10 minutes",
            )
        except DomainError:  # e.g. a peer that is not an IP address: nothing to block
            logger.warning("could not auto-block %s", ip, exc_info=True)


class IdempotencyMiddleware(Middleware):
    """`Idempotency-Key` on POST/PUT/PATCH under /api from authenticated principals."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_key = request.headers.get("Idempotency-Key")
        if (
            raw_key is None
            or request.method not in ("POST", "PUT", "PATCH")
            or not routes.IDEMPOTENT.matches(request.path)
        ):
            return self.get_response(request)
        principal = request_principal(request)
        if principal is None:
            return self.get_response(request)  # ignored for anonymous requests
        try:
            key = idempotency.validate_key(raw_key)
            claim = idempotency.claim(principal=principal.key, key=key, request=request)
        except DomainError as exc:
            return exception_to_response(exc, request)
        if claim.replay is not None:
            return claim.replay
        assert claim.record is not None
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency.release(claim.record)
            raise
        idempotency.complete(claim.record, response)
        return response


def socket_guard(scope: dict) -> tuple[int, str, str] | None:
    """The blocklist and the ip tier for WebSocket handshakes (contract §12): None to let the
    socket in, else (status, code, message) to refuse it."""
    from django.conf import settings

    from config.net import resolve_client_ip

    headers = dict(scope.get("headers") or [])
    peer = (scope.get("client") or ("", 0))[0]
    forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1") or None
    ip = resolve_client_ip(peer, forwarded, settings.TRUSTED_PROXIES)
    if blocklist.find_block(ip) is not None:
        return 403, "IP_BLOCKED", "Access denied"
    if ratelimit.enabled():
        decision = ratelimit.hit(
            ratelimit.IP_TIER, ratelimit.ip_identity(ip), ratelimit.limit_for(ratelimit.IP_TIER)
        )
        if not decision.allowed:
            return 429, "RATE_LIMITED", "Too many requests. Please try again later."
    return None
