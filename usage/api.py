"""Usage API (contract §6.2, §4.2): the user's routes and the organization's, all B."""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import GenericViewSet

from accounts.core.requests import AuthenticatedRequest
from config.viewsets import validated
from organizations.api import SLUG, OrgView
from organizations.models import OrgRole
from usage import alerts, selectors, services
from usage.periods import Scope
from usage.serializers import (
    AcknowledgeOutput,
    EventsInput,
    HistoryQuery,
    IngestOutput,
    RecordInput,
    RecordOutput,
    UsageAlertListOutput,
    UsageHistoryOutput,
    UsageSummaryOutput,
)

BAD_BATCH = OpenApiResponse(description="VALIDATION_ERROR naming `events[i].field`; nothing stored")


def _record(view: GenericViewSet, request: Request, scope: Scope) -> Response:
    data = validated(view, request.data)
    event = services.usage_record(scope=scope, **data)
    return Response({"message": "usage recorded", "event_id": event.pk}, status=201)


def _ingest(view: GenericViewSet, request: Request, scope: Scope) -> Response:
    data = validated(view, request.data)
    result = services.usage_events_ingest(scope=scope, events=data["events"])
    return Response({"accepted": result.accepted, "duplicates": result.duplicates}, status=202)


@extend_schema(tags=["usage"])
class UsageViewSet(GenericViewSet):
    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"record": RecordInput, "events": EventsInput, "history": HistoryQuery}[self.action]

    @staticmethod
    def scope(request: AuthenticatedRequest) -> Scope:
        return Scope(user_id=request.user.pk)

    @extend_schema(operation_id="usage_summary", responses={200: UsageSummaryOutput})
    def summary(self, request: AuthenticatedRequest) -> Response:
        return Response(selectors.usage_summary(scope=self.scope(request)))

    @extend_schema(operation_id="usage_record", request=RecordInput, responses={201: RecordOutput})
    def record(self, request: AuthenticatedRequest) -> Response:
        return _record(self, request, self.scope(request))

    @extend_schema(
        operation_id="usage_events",
        request=EventsInput,
        responses={202: IngestOutput, 400: BAD_BATCH},
    )
    def events(self, request: AuthenticatedRequest) -> Response:
        return _ingest(self, request, self.scope(request))

    @extend_schema(
        operation_id="usage_history",
        parameters=[OpenApiParameter("months", int, description="1–24 (6)")],
        responses={200: UsageHistoryOutput},
    )
    def history(self, request: AuthenticatedRequest) -> Response:
        months = validated(self, request.query_params)["months"]
        history = selectors.usage_history(scope=self.scope(request), months=months)
        return Response({"history": history, "count": len(history)})

    @extend_schema(operation_id="usage_alerts", responses={200: UsageAlertListOutput})
    def alerts(self, request: AuthenticatedRequest) -> Response:
        alerts = selectors.alert_list(user_id=request.user.pk)
        return Response({"alerts": alerts, "count": len(alerts)})

    @extend_schema(
        operation_id="usage_alert_acknowledge",
        request=None,
        responses={200: AcknowledgeOutput, 404: OpenApiResponse(description="Not yours")},
    )
    def acknowledge(self, request: AuthenticatedRequest, alert_id: int) -> Response:
        alert = alerts.alert_acknowledge(alert_id=alert_id, user_id=request.user.pk)
        return Response({"message": "alert acknowledged", "alert_id": alert.pk})


@extend_schema(tags=["organizations: usage"], parameters=[SLUG])
class OrganizationUsageViewSet(OrgView):
    action_roles: ClassVar[dict[str, str]] = {
        "summary": OrgRole.MEMBER,
        "record": OrgRole.MEMBER,
        "events": OrgRole.MEMBER,
    }

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"record": RecordInput, "events": EventsInput}[self.action]

    def scope(self) -> Scope:
        return Scope(organization_id=self.actor().organization.pk)

    @extend_schema(operation_id="organizations_usage", responses={200: UsageSummaryOutput})
    def summary(self, request: Request, slug: str) -> Response:
        return Response(selectors.usage_summary(scope=self.scope()))

    @extend_schema(
        operation_id="organizations_usage_record",
        request=RecordInput,
        responses={201: RecordOutput},
    )
    def record(self, request: Request, slug: str) -> Response:
        return _record(self, request, self.scope())

    @extend_schema(
        operation_id="organizations_usage_events",
        request=EventsInput,
        responses={202: IngestOutput, 400: BAD_BATCH},
    )
    def events(self, request: Request, slug: str) -> Response:
        return _ingest(self, request, self.scope())
