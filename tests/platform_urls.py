"""Test-only endpoints mounted in front of Keel's real URLconf (`@pytest.mark.urls`).

They exercise the shared plumbing (error envelope, CSRF, body limits) through real DRF and
Django views, the same way domain apps will use it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import errors
from config.urls import urlpatterns as keel_urlpatterns


class EventSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    quantity = serializers.IntegerField(min_value=1)


class BatchSerializer(serializers.Serializer):
    email = serializers.EmailField()
    events = EventSerializer(many=True, required=False)


class EchoView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        return Response({"received": request.data, "user": getattr(request.user, "pk", None)})

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class SideEffectView(APIView):
    """Writes an audit entry per execution (countable side effect); `?sleep=` slows it down."""

    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        import time

        from security.services import audit_record

        time.sleep(float(request.query_params.get("sleep", 0)))
        entry = audit_record(actor=None, action="side_effect", target_type="test")
        status = int(request.query_params.get("status", 201))
        return Response({"entry": entry.pk, "received": request.data}, status=status)


class ValidateView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


DOMAIN_ERRORS: dict[str, Exception] = {
    "conflict": errors.Conflict("email: An account with this email already exists"),
    "not-found": errors.NotFound(),
    "forbidden": errors.Forbidden(),
    "rate": errors.RateLimited(retry_after=42),
    "field": errors.ValidationFailed.for_field("slug", "Slug is reserved", code="reserved"),
    "unauthorized": errors.TokenExpired(),
}


class DomainErrorView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, kind: str) -> Response:
        raise DOMAIN_ERRORS[kind]


class PrivateView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"user": request.user.pk})


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internals: password=hunter2")


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("plain view failure")


def page_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("page failure")


def plain_json(request: HttpRequest, **kwargs: Any) -> JsonResponse:
    return JsonResponse({"ok": True})


test_api = [
    path("_echo", EchoView.as_view()),
    path("_validate", ValidateView.as_view()),
    path("_side-effect", SideEffectView.as_view()),
    path("_error/<str:kind>", DomainErrorView.as_view()),
    path("_private", PrivateView.as_view()),
    path("_boom", BoomView.as_view()),
    path("_plain-boom", plain_boom),
    path("webhooks/stripe", EchoView.as_view()),
    path("users/me/avatar", EchoView.as_view()),
    path("changelog", plain_json),
    path("auth/_probe", plain_json),
    path("files/<int:pk>/download", plain_json),
]

urlpatterns = [
    path("api/v1/", include(test_api)),
    path("api/", include(test_api)),
    path("_page-boom", page_boom),
    *keel_urlpatterns,
]

handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
