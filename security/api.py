"""Admin API of the security app (contract §11): settings, IP blocklist, audit logs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.mail import EmailMessage
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import BadRequest, NotFound
from config.mail import from_address, mail_connection
from config.net import request_client_ip
from config.pagination import bool_param, paginate_page
from config.permissions import IsStaff
from config.responses import envelope
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


class StaffAPIView(APIView):
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


@extend_schema(tags=["admin: settings"])
class SettingListView(StaffAPIView):
    @extend_schema(
        operation_id="admin_settings_list", responses={200: SystemSettingOutput(many=True)}
    )
    def get(self, request: Request) -> Response:
        return Response(SystemSettingOutput(selectors.system_setting_rows(), many=True).data)


@extend_schema(tags=["admin: settings"])
class SettingDetailView(StaffAPIView):
    """GET: the settings of one category. PUT: one setting by key."""

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
    def get(self, request: Request, name: str) -> Response:
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
    def put(self, request: Request, name: str) -> Response:
        system_settings.definition(name)  # 404 before validating the body
        data = SettingValueInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.system_setting_update(
            key=name, value=data.validated_data["value"], actor=request.user
        )
        return envelope("Setting updated successfully")


@extend_schema(tags=["admin: settings"])
class EmailSettingsView(StaffAPIView):
    @extend_schema(operation_id="admin_settings_email", responses={200: EmailSettingsOutput})
    def get(self, request: Request) -> Response:
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
    def put(self, request: Request) -> Response:
        services.system_settings_update(
            values=_pick(request.data, EMAIL_FIELDS), actor=request.user
        )
        return envelope("Email settings updated successfully")


@extend_schema(tags=["admin: settings"])
class EmailTestView(StaffAPIView):
    @extend_schema(
        operation_id="admin_settings_email_test",
        request=EmailTestInput,
        responses={200: MessageOutput},
    )
    def post(self, request: Request) -> Response:
        data = EmailTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        recipient = data.validated_data.get("recipient_email") or request.user.email
        site_name = system_settings.get_setting("site_name")
        message = EmailMessage(
            subject=f"{site_name}: test email",
            body="This is a test email from Keel. Your email settings work.",
            from_email=from_address(),
            to=[recipient],
            connection=mail_connection(),
        )
        try:
            message.send()
        except Exception as exc:  # any transport error is the operator's answer
            raise BadRequest(f"Could not send the test email: {exc}") from exc
        services.audit_record(
            actor=request.user,
            action="email_test",
            target_type="system_setting",
            metadata={"recipient": recipient},
        )
        return envelope("Test email sent", {"recipient": recipient})


def _typed_category_view(category: str, aliases: dict[str, str], label: str) -> type[StaffAPIView]:
    fields = {
        k: k for k, d in system_settings.DEFINITIONS.items() if d.category == category
    } | aliases

    @extend_schema(tags=["admin: settings"])
    class TypedSettingsView(StaffAPIView):
        @extend_schema(operation_id=f"admin_settings_{category}", responses={200: dict[str, Any]})
        def get(self, request: Request) -> Response:
            values = _typed_values(category)
            for alias, key in aliases.items():
                values[alias] = values[key]
            return Response(values)

        @extend_schema(
            operation_id=f"admin_settings_{category}_update",
            request=dict[str, Any],
            responses={200: MessageOutput},
        )
        def put(self, request: Request) -> Response:
            services.system_settings_update(values=_pick(request.data, fields), actor=request.user)
            return envelope(f"{label} settings updated successfully")

    TypedSettingsView.__name__ = f"{category.title()}SettingsView"
    return TypedSettingsView


SecuritySettingsView = _typed_category_view("security", SECURITY_ALIASES, "Security")
SiteSettingsView = _typed_category_view("site", {}, "Site")


@extend_schema(tags=["admin: IP blocklist"])
class IPBlockListView(StaffAPIView):
    @extend_schema(
        operation_id="admin_ip_blocklist",
        parameters=[OpenApiParameter("include_inactive", bool)],
        responses={200: IPBlockOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        include_inactive = bool_param(request, "include_inactive")
        return Response(
            IPBlockOutput(
                selectors.ip_block_list(include_inactive=include_inactive), many=True
            ).data
        )

    @extend_schema(
        operation_id="admin_ip_block_create", request=IPBlockInput, responses={201: IPBlockOutput}
    )
    def post(self, request: Request) -> Response:
        data = IPBlockInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        address, cidr = v.get("ip_address") or "", v.get("ip_range") or ""
        if "/" in address and not cidr:  # the React client sends ranges in ip_address
            address, cidr = "", address
        expires_at = v.get("expires_at")
        if expires_at is None and v.get("expires_in_hours"):
            from django.utils import timezone

            expires_at = timezone.now() + timedelta(hours=v["expires_in_hours"])
        block = services.ip_block_create(
            actor=request.user,
            ip_address=address,
            ip_range=cidr,
            reason=v.get("reason", ""),
            block_type=v.get("block_type") or "manual",
            expires_at=expires_at,
            caller_ip=request_client_ip(request),
        )
        return Response(IPBlockOutput(block).data, status=201)


@extend_schema(tags=["admin: IP blocklist"])
class IPBlockDetailView(StaffAPIView):
    @extend_schema(operation_id="admin_ip_block_delete", responses={200: MessageOutput})
    def delete(self, request: Request, block_id: int) -> Response:
        services.ip_block_deactivate(block_id=block_id, actor=request.user)
        return envelope("IP unblocked successfully")


@extend_schema(tags=["admin: audit"])
class AuditLogListView(StaffAPIView):
    @extend_schema(
        operation_id="admin_audit_logs",
        parameters=[
            AuditLogFilters,
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int),
        ],
        responses={200: PaginatedAuditLogs},
    )
    def get(self, request: Request) -> Response:
        filters = AuditLogFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = paginate_page(request, selectors.audit_log_list(filters=filters.validated_data))
        return Response(page.as_dict("logs", AuditLogOutput(page.items, many=True).data))
