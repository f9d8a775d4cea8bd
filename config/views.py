"""Platform endpoints: health, CSRF token, metrics; and the public pages."""

from __future__ import annotations

import os
import platform
import resource
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import health
from config.errors import error_body, error_response
from config.pagination import bool_param
from config.serializers import (
    CsrfTokenSerializer,
    HealthSerializer,
    LivenessSerializer,
    ReadinessSerializer,
)


class PublicAPIView(APIView):
    """An API view that needs no credentials and ignores bad ones (contract "Pub")."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class HealthView(PublicAPIView):
    @extend_schema(
        tags=["health"],
        operation_id="health",
        parameters=[OpenApiParameter("verbose", bool, description="Add runtime information")],
        responses={200: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        components = [
            health.check_database(),
            health.check_cache(),
            health.check_jobs(),
            health.check_channel_layer(),
        ]
        status = health.overall(components)
        body: dict[str, Any] = {
            "overall_status": status,
            "timestamp": health.now_iso(),
            "uptime": health.uptime(),
            "version": health.version_info(),
            "components": [c.as_dict() for c in components],
        }
        if bool_param(request, "verbose"):
            body["runtime"] = {
                "python_version": platform.python_version(),
                "django_version": django.get_version(),
                "pid": os.getpid(),
                "memory_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        http_status = 200
        if status == health.UNHEALTHY:
            http_status = 503
            body.update(error_body(503, "INTERNAL_ERROR", "Database unavailable"))
        return Response(body, status=http_status, headers={"X-Environment": settings.ENVIRONMENT})


class ReadyView(PublicAPIView):
    @extend_schema(
        tags=["health"],
        operation_id="health_ready",
        responses={200: ReadinessSerializer},
    )
    def get(self, request: Request) -> Response:
        database = health.check_database()
        cache = health.check_cache()
        cache_status = {"healthy": "healthy", "degraded": "unavailable"}.get(
            cache.status, "unavailable"
        )
        body: dict[str, Any] = {
            "status": "ready" if database.status == health.HEALTHY else "not_ready",
            "database": database.status,
            "cache": cache_status,
            "timestamp": health.now_iso(),
        }
        if database.status != health.HEALTHY:
            body.update(error_body(503, "INTERNAL_ERROR", "Database unavailable"))
            return Response(body, status=503)
        return Response(body)


class LiveView(PublicAPIView):
    @extend_schema(
        tags=["health"],
        operation_id="health_live",
        responses={200: LivenessSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "alive", "timestamp": health.now_iso()})


class CsrfTokenView(PublicAPIView):
    @extend_schema(
        tags=["auth"],
        operation_id="csrf_token",
        responses={200: CsrfTokenSerializer},
    )
    def get(self, request: Request) -> Response:
        """Issue (or re-issue) the double-submit CSRF cookie and return its value."""
        get_token(request)
        return Response(
            {"csrf_token": request.META["CSRF_COOKIE"], "expires_in": str(settings.CSRF_COOKIE_AGE)}
        )


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; Bearer METRICS_TOKEN when configured."""
    token = settings.METRICS_TOKEN
    if token:
        import hmac

        presented = request.headers.get("Authorization", "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return error_response(401, "UNAUTHORIZED", "Authentication required")
    return ExportToDjangoView(request)


class APINotFoundView(PublicAPIView):
    """Catch-all under /api: unknown paths are a JSON 404, never an HTML page or a redirect."""

    schema = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return error_response(404, "NOT_FOUND", "Resource not found")


# --- Pages ------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")
