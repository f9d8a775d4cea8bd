"""GDPR API (contract §3.6, §3.7): data export and account deletion of the signed-in user."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import FileResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from accounts.core.requests import AuthenticatedRequest
from accounts.privacy import services as privacy
from accounts.privacy.serializers import (
    DataExportEnvelopeOutput,
    DataExportOutput,
    DeletionEnvelopeOutput,
    DeletionRequestInput,
    DeletionStatusOutput,
    deletion_status_data,
)
from config.errors import NotFound
from config.responses import envelope
from config.viewsets import validated
from security.serializers import MessageOutput

CANCELLED = "Account deletion has been cancelled"


# Viewsets carry no class docstrings: drf-spectacular would publish them as the description of
# every operation. Both resources are singletons of the signed-in user, which no router route
# fits: they are mapped explicitly in accounts/privacy/urls.py.


class AnyAcceptNegotiation(BaseContentNegotiation):
    """The download answers a ZIP whatever the client accepts (errors stay JSON)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


# POST/GET /users/me/export (request one; the latest) and GET /users/me/export/download.
@extend_schema(tags=["account: privacy"])
class DataExportViewSet(GenericViewSet):
    def get_content_negotiator(self) -> BaseContentNegotiation:
        # By route (the negotiator is chosen before the action is known): the download's
        # answers a ZIP whatever the client accepts, for every method; the others negotiate.
        if "download" in self.action_map.values():
            return AnyAcceptNegotiation()
        return super().get_content_negotiator()

    @extend_schema(
        operation_id="me_export_request",
        request=None,
        responses={200: DataExportEnvelopeOutput},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        export = privacy.data_export_request(user=request.user)
        return envelope(
            "Data export requested. You will get an email when it is ready.",
            DataExportOutput(export).data,
        )

    @extend_schema(operation_id="me_export_status", responses={200: DataExportOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        export = privacy.data_export_latest(user=request.user)
        if export is None:
            raise NotFound("No data export found")
        return Response(DataExportOutput(export).data)

    @extend_schema(
        operation_id="me_export_download",
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="user_data_<user id>.zip"
            )
        },
    )
    def download(self, request: AuthenticatedRequest) -> HttpResponseBase:
        _export, handle = privacy.data_export_open(user=request.user)
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=privacy.data_export_file_name(user=request.user),
            content_type="application/zip",
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


# POST/GET/DELETE /users/me/delete (request; status; cancel) and POST /users/me/delete/cancel.
@extend_schema(tags=["account: privacy"])
class AccountDeletionViewSet(GenericViewSet):
    serializer_class = DeletionRequestInput

    @extend_schema(
        operation_id="me_delete_request",
        request=DeletionRequestInput,
        responses={200: DeletionEnvelopeOutput},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        data = validated(self, request.data)
        status = privacy.account_deletion_request(
            user=request.user,
            password=data.get("password"),
            confirmation=data.get("confirmation"),
            reason=data.get("reason") or "",
        )
        return envelope(
            f"Your account is scheduled for deletion on {status.scheduled_for:%Y-%m-%d}",
            deletion_status_data(status),
        )

    @extend_schema(operation_id="me_delete_status", responses={200: DeletionStatusOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        return Response(deletion_status_data(privacy.account_deletion_status(user=request.user)))

    @extend_schema(operation_id="me_delete_cancel", responses={200: MessageOutput})
    def destroy(self, request: AuthenticatedRequest) -> Response:
        privacy.account_deletion_cancel(user=request.user)
        return envelope(CANCELLED)

    @extend_schema(
        operation_id="me_delete_cancel_post", request=None, responses={200: MessageOutput}
    )
    def cancel(self, request: AuthenticatedRequest) -> Response:
        privacy.account_deletion_cancel(user=request.user)
        return envelope(CANCELLED)
