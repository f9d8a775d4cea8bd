"""Admin API of the security app (contract §11): settings, IP blocklist, audit logs. One viewset
per resource, staff only.

Viewsets carry no class docstrings: drf-spectacular would publish them as the description of
every operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import GenericViewSet

from config.errors import BadRequest, NotFound
from config.net import request_client_ip
from config.pagination import bool_param, paginate_page
from config.permissions import IsStaff
from config.responses import envelope
from config.viewsets import validated
from security import selectors, services, system_settings
from security.serializers import (
    AuditLogFilters,
    AuditLogOutput,
    EmailSettingsInput,
    EmailSettingsOutput,
    EmailTestInput,
    IPBlockInput,
    IPBlockOutput,
    MessageOutput,
    PaginatedAuditLogs,
    SettingValueInput,
    SystemSettingOutput,
)

EMAIL_FIELDS = {
    "smtp_host": "smtp_host",
    "smtp_port": "smtp_port",
    "smtp_user": "smtp_user",
    "smtp_username": "smtp_user",
    "smtp_password": "smtp_password",
    "from_email": "smtp_from_email",
    "smtp_from_email": "smtp_from_email",
    "from_name": "smtp_from_name",
    "smtp_from_name": "smtp_from_name",
    "enabled": "smtp_enabled",
    "smtp_enabled": "smtp_enabled",
}
SECURITY_ALIASES = {"require_2fa_for_admin": "require_2fa_for_admins"}
TYPED_CATEGORIES = ("email", "security", "site")


class StaffViewSet(GenericViewSet):
    permission_classes = [IsStaff]


def _typed_values(category: str) -> dict[str, Any]:
    values = system_settings.all_settings()
    return {k: values[k] for k, d in system_settings.DEFINITIONS.items() if d.category == category}


def _pick(data: Any, fields: dict[str, str]) -> dict[str, Any]:
    """Map known (aliased) input fields to setting keys; unknown fields are ignored."""
    if hasattr(data, "dict"):  # form-encoded: one value per field
        data = data.dict()
    if not isinstance(data, dict):
        raise BadRequest("Expected a JSON object")
    picked: dict[str, Any] = {}
    for name, value in data.items():
        key = fields.get(name)
        if key is None or (key == "smtp_password" and value == system_settings.MASK):
            continue
        picked[key] = value
    return picked


def _typed_settings(category: str, aliases: dict[str, str]) -> Response:
    values = _typed_values(category)
    for alias, key in aliases.items():
        values[alias] = values[key]
    return Response(values)


def _typed_update(request: Request, category: str, aliases: dict[str, str]) -> None:
    fields = {k: k for k, d in system_settings.DEFINITIONS.items() if d.category == category}
    values = _pick(request.data, fields | aliases)
    services.system_settings_update(values=values, actor=request.user)


# System settings: all of them, one category, one key; email, security and site as typed
# objects (with the React client's aliases); the test email.
@extend_schema(tags=["admin: settings"])
class SettingViewSet(StaffViewSet):
    lookup_field = "name"

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"update": SettingValueInput, "email_test": EmailTestInput}[self.action]

    @extend_schema(
        operation_id="admin_settings_list", responses={200: SystemSettingOutput(many=True)}
    )
    def list(self, request: Request) -> Response:
        return Response(SystemSettingOutput(selectors.system_setting_rows(), many=True).data)

    @extend_schema(
        operation_id="admin_settings_category",
        parameters=[
            OpenApiParameter(
                "name",
                str,
                OpenApiParameter.PATH,
                description="A category (email, security and site have their own routes)",
                enum=[c for c in system_settings.CATEGORIES if c not in TYPED_CATEGORIES],
            )
        ],
        responses={200: SystemSettingOutput(many=True)},
    )
    def retrieve(self, request: Request, name: str) -> Response:
        """The settings of one category."""
        if name not in system_settings.CATEGORIES:
            raise NotFound("Unknown settings category")
        return Response(
            SystemSettingOutput(selectors.system_setting_rows(category=name), many=True).data
        )

    @extend_schema(
        operation_id="admin_settings_update",
        parameters=[
            OpenApiParameter(
                "name",
                str,
                OpenApiParameter.PATH,
                description="A setting key",
                enum=sorted(system_settings.DEFINITIONS),
            )
        ],
        request=SettingValueInput,
        responses={200: MessageOutput},
    )
    def update(self, request: Request, name: str) -> Response:
        """One setting, by key."""
        system_settings.definition(name)  # 404 before validating the body
        value = validated(self, request.data)["value"]
        services.system_setting_update(key=name, value=value, actor=request.user)
        return envelope("Setting updated successfully")

    @extend_schema(operation_id="admin_settings_email", responses={200: EmailSettingsOutput})
    @action(detail=False, methods=["get"])
    def email(self, request: Request) -> Response:
        v = _typed_values("email")
        return Response(
            {
                "smtp_host": v["smtp_host"],
                "smtp_port": v["smtp_port"],
                "smtp_user": v["smtp_user"],
                "smtp_username": v["smtp_user"],
                "smtp_password_set": bool(v["smtp_password"]),
                "from_email": v["smtp_from_email"],
                "smtp_from_email": v["smtp_from_email"],
                "from_name": v["smtp_from_name"],
                "smtp_from_name": v["smtp_from_name"],
                "enabled": v["smtp_enabled"],
                "smtp_enabled": v["smtp_enabled"],
            }
        )

    @extend_schema(
        operation_id="admin_settings_email_update",
        request=EmailSettingsInput,
        responses={200: MessageOutput},
    )
    @email.mapping.put
    def email_update(self, request: Request) -> Response:
        services.system_settings_update(
            values=_pick(request.data, EMAIL_FIELDS), actor=request.user
        )
        return envelope("Email settings updated successfully")

    @extend_schema(
        operation_id="admin_settings_email_test",
        request=EmailTestInput,
        responses={200: MessageOutput},
    )
    @action(detail=False, methods=["post"], url_path="email/test")
    def email_test(self, request: Request) -> Response:
        recipient = services.email_test_send(
            actor=request.user, recipient=validated(self, request.data).get("recipient_email")
        )
        return envelope("Test email sent", {"recipient": recipient})

    @extend_schema(operation_id="admin_settings_security", responses={200: dict[str, Any]})
    @action(detail=False, methods=["get"])
    def security(self, request: Request) -> Response:
        return _typed_settings("security", SECURITY_ALIASES)

    @extend_schema(
        operation_id="admin_settings_security_update",
        request=dict[str, Any],
        responses={200: MessageOutput},
    )
    @security.mapping.put
    def security_update(self, request: Request) -> Response:
        _typed_update(request, "security", SECURITY_ALIASES)
        return envelope("Security settings updated successfully")

    @extend_schema(operation_id="admin_settings_site", responses={200: dict[str, Any]})
    @action(detail=False, methods=["get"])
    def site(self, request: Request) -> Response:
        return _typed_settings("site", {})

    @extend_schema(
        operation_id="admin_settings_site_update",
        request=dict[str, Any],
        responses={200: MessageOutput},
    )
    @site.mapping.put
    def site_update(self, request: Request) -> Response:
        _typed_update(request, "site", {})
        return envelope("Site settings updated successfully")


@extend_schema(tags=["admin: IP blocklist"])
class IPBlockViewSet(StaffViewSet):
    lookup_field = "block_id"
    lookup_value_converter = "int"
    serializer_class = IPBlockInput

    @extend_schema(
        operation_id="admin_ip_blocklist",
        parameters=[OpenApiParameter("include_inactive", bool)],
        responses={200: IPBlockOutput(many=True)},
    )
    def list(self, request: Request) -> Response:
        blocks = selectors.ip_block_list(include_inactive=bool_param(request, "include_inactive"))
        return Response(IPBlockOutput(blocks, many=True).data)

    @extend_schema(
        operation_id="admin_ip_block_create", request=IPBlockInput, responses={201: IPBlockOutput}
    )
    def create(self, request: Request) -> Response:
        block = services.ip_block_create(
            actor=request.user,
            caller_ip=request_client_ip(request),
            **validated(self, request.data),
        )
        return Response(IPBlockOutput(block).data, status=201)

    @extend_schema(operation_id="admin_ip_block_delete", responses={200: MessageOutput})
    def destroy(self, request: Request, block_id: int) -> Response:
        services.ip_block_deactivate(block_id=block_id, actor=request.user)
        return envelope("IP unblocked successfully")


@extend_schema(tags=["admin: audit"])
class AuditLogViewSet(StaffViewSet):
    serializer_class = AuditLogFilters

    @extend_schema(
        operation_id="admin_audit_logs",
        parameters=[
            AuditLogFilters,
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: PaginatedAuditLogs},
    )
    def list(self, request: Request) -> Response:
        filters = validated(self, request.query_params)
        page = paginate_page(request, selectors.audit_log_list(filters=filters))
        return Response(page.render("logs", AuditLogOutput))
