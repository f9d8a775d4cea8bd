"""Organizations API (contract §4.2, §4.4). Every route answers the E shape. Org-scoped views
resolve the caller's role through organizations.permissions (one layer for all of them)."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFound
from config.responses import envelope
from organizations import selectors, services
from organizations.access import OrgActor
from organizations.models import OrgRole
from organizations.permissions import OrgRolePermission
from organizations.serializers import (
    SLUG_PATH_SCHEMA,
    APIKeyEnvelope,
    APIKeyInput,
    APIKeyListEnvelope,
    InvitationEnvelope,
    InvitationListEnvelope,
    InviteInput,
    MemberListEnvelope,
    OrganizationCreateInput,
    OrganizationEnvelope,
    OrganizationListEnvelope,
    OrganizationUpdateInput,
    OrgMessageEnvelope,
    OrgRoleInput,
    TokenInput,
    TransferInput,
    api_key_data,
    invitation_data,
    member_data,
    organization_data,
)

MEMBER, ADMIN, OWNER = OrgRole.MEMBER, OrgRole.ADMIN, OrgRole.OWNER


@extend_schema(parameters=[OpenApiParameter("slug", SLUG_PATH_SCHEMA, OpenApiParameter.PATH)])
class OrgView(APIView):
    """An org-scoped route: `org_roles` maps HTTP methods to the minimum org role."""

    permission_classes = [OrgRolePermission]
    org_roles: ClassVar[dict[str, str]] = {}
    api_keys_allowed = True

    def actor(self, request: Request) -> OrgActor:
        return request.org_actor  # type: ignore[attr-defined, no-any-return]


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


@extend_schema(tags=["organizations"])
class OrganizationListView(APIView):
    @extend_schema(operation_id="organizations_list", responses={200: OrganizationListEnvelope})
    def get(self, request: Request) -> Response:
        rows = selectors.organization_list_for_user(user=request.user)
        return envelope(
            "Organizations retrieved successfully", [organization_data(o, r) for o, r in rows]
        )

    @extend_schema(
        operation_id="organizations_create",
        request=OrganizationCreateInput,
        responses={
            201: OrganizationEnvelope,
            409: OpenApiResponse(description="slug: This slug is already taken"),
        },
    )
    def post(self, request: Request) -> Response:
        data = _valid(OrganizationCreateInput, request.data)
        organization = services.organization_create(user=request.user, **data)
        return envelope(
            "Organization created successfully", organization_data(organization, OWNER), status=201
        )


@extend_schema(tags=["organizations"])
class OrganizationDetailView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"get": MEMBER, "put": ADMIN, "delete": OWNER}

    @extend_schema(operation_id="organizations_get", responses={200: OrganizationEnvelope})
    def get(self, request: Request, slug: str) -> Response:
        actor = self.actor(request)
        if actor.user is not None:
            services.organization_select(user=actor.user, organization=actor.organization)  # type: ignore[arg-type]
        return envelope(
            "Organization retrieved successfully", organization_data(actor.organization, actor.role)
        )

    @extend_schema(
        operation_id="organizations_update",
        request=OrganizationUpdateInput,
        responses={200: OrganizationEnvelope},
    )
    def put(self, request: Request, slug: str) -> Response:
        actor = self.actor(request)
        organization = services.organization_update(
            actor=actor, **_valid(OrganizationUpdateInput, request.data)
        )
        return envelope(
            "Organization updated successfully", organization_data(organization, actor.role)
        )

    @extend_schema(
        operation_id="organizations_delete",
        responses={
            200: OrgMessageEnvelope,
            409: OpenApiResponse(description="The organization still has a live subscription"),
        },
    )
    def delete(self, request: Request, slug: str) -> Response:
        services.organization_delete(actor=self.actor(request))
        return envelope("Organization deleted", {"message": "Organization deleted"})


@extend_schema(tags=["organizations"])
class LeaveView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"post": MEMBER}
    api_keys_allowed = False

    @extend_schema(
        operation_id="organizations_leave", request=None, responses={200: OrgMessageEnvelope}
    )
    def post(self, request: Request, slug: str) -> Response:
        services.organization_leave(actor=self.actor(request))
        return envelope("You left the organization", {"message": "You left the organization"})


@extend_schema(tags=["organizations"])
class TransferOwnershipView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"post": OWNER}
    api_keys_allowed = False

    @extend_schema(
        operation_id="organizations_transfer_ownership",
        request=TransferInput,
        responses={200: OrganizationEnvelope},
    )
    def post(self, request: Request, slug: str) -> Response:
        organization = services.ownership_transfer(
            actor=self.actor(request), **_valid(TransferInput, request.data)
        )
        return envelope("Ownership transferred", organization_data(organization, ADMIN))


@extend_schema(tags=["organizations: members"])
class MemberListView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"get": MEMBER}

    @extend_schema(operation_id="organizations_members", responses={200: MemberListEnvelope})
    def get(self, request: Request, slug: str) -> Response:
        members = selectors.member_list(organization=self.actor(request).organization)
        return envelope("Members retrieved successfully", [member_data(m) for m in members])


@extend_schema(tags=["organizations: members"])
class InviteView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"post": ADMIN}

    @extend_schema(
        operation_id="organizations_invite",
        request=InviteInput,
        responses={
            201: InvitationEnvelope,
            402: OpenApiResponse(description="SEAT_LIMIT_REACHED (active + pending members)"),
            409: OpenApiResponse(
                description="email: already a member, or an invitation is pending"
            ),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        invitation = services.invitation_create(
            actor=self.actor(request), **_valid(InviteInput, request.data)
        )
        return envelope("Invitation sent", invitation_data(invitation), status=201)


@extend_schema(tags=["organizations: members"])
class MemberRoleView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"put": ADMIN}

    @extend_schema(
        operation_id="organizations_member_role",
        request=OrgRoleInput,
        responses={200: OrgMessageEnvelope},
    )
    def put(self, request: Request, slug: str, user_id: int) -> Response:
        services.member_role_change(
            actor=self.actor(request), user_id=user_id, **_valid(OrgRoleInput, request.data)
        )
        return envelope("Role updated", {"message": "Role updated"})


@extend_schema(tags=["organizations: members"])
class MemberDetailView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"delete": ADMIN}

    @extend_schema(operation_id="organizations_member_remove", responses={200: OrgMessageEnvelope})
    def delete(self, request: Request, slug: str, user_id: int) -> Response:
        services.member_remove(actor=self.actor(request), user_id=user_id)
        return envelope("Member removed", {"message": "Member removed"})


@extend_schema(tags=["organizations: invitations"])
class InvitationListView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"get": ADMIN}

    @extend_schema(
        operation_id="organizations_invitations", responses={200: InvitationListEnvelope}
    )
    def get(self, request: Request, slug: str) -> Response:
        invitations = selectors.invitation_list_pending(
            organization=self.actor(request).organization
        )
        return envelope(
            "Invitations retrieved successfully", [invitation_data(i) for i in invitations]
        )


@extend_schema(tags=["organizations: invitations"])
class InvitationDetailView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"delete": ADMIN}

    @extend_schema(
        operation_id="organizations_invitation_revoke", responses={200: OrgMessageEnvelope}
    )
    def delete(self, request: Request, slug: str, invitation_id: int) -> Response:
        services.invitation_revoke(actor=self.actor(request), invitation_id=invitation_id)
        return envelope("Invitation revoked", {"message": "Invitation revoked"})


@extend_schema(tags=["organizations: invitations"])
class InvitationResendView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"post": ADMIN}

    @extend_schema(
        operation_id="organizations_invitation_resend",
        request=None,
        responses={200: InvitationEnvelope},
    )
    def post(self, request: Request, slug: str, invitation_id: int) -> Response:
        invitation = services.invitation_resend(
            actor=self.actor(request), invitation_id=invitation_id
        )
        return envelope("Invitation sent again", invitation_data(invitation))


def _token(request: Request) -> str:
    token = request.query_params.get("token")
    if not token:
        token = _valid(TokenInput, request.data).get("token", "")
    if not token:
        raise NotFound("Invitation not found")
    return token


@extend_schema(tags=["organizations: invitations"])
class InvitationAcceptView(APIView):
    @extend_schema(
        operation_id="invitations_accept",
        parameters=[OpenApiParameter("token", str)],
        request=TokenInput,
        responses={
            200: OrganizationEnvelope,
            402: OpenApiResponse(description="SEAT_LIMIT_REACHED"),
            409: OpenApiResponse(description="Already a member of this organization"),
        },
    )
    def post(self, request: Request) -> Response:
        organization = services.invitation_accept(token=_token(request), user=request.user)
        role = selectors.organization_role(organization=organization, user=request.user)
        return envelope("Invitation accepted", organization_data(organization, role))


@extend_schema(tags=["organizations: invitations"])
class InvitationDeclineView(APIView):
    """Pub+: anyone holding the link may decline."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="invitations_decline",
        parameters=[OpenApiParameter("token", str)],
        request=TokenInput,
        responses={200: OrgMessageEnvelope},
    )
    def post(self, request: Request) -> Response:
        services.invitation_decline(token=_token(request))
        return envelope("Invitation declined", {"message": "Invitation declined"})


@extend_schema(tags=["organizations: api keys"])
class APIKeyListView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"get": ADMIN, "post": ADMIN}
    api_keys_allowed = False

    @extend_schema(operation_id="organizations_api_keys", responses={200: APIKeyListEnvelope})
    def get(self, request: Request, slug: str) -> Response:
        keys = selectors.api_key_list(organization=self.actor(request).organization)
        return envelope("API keys retrieved successfully", [api_key_data(k) for k in keys])

    @extend_schema(
        operation_id="organizations_api_key_create",
        request=APIKeyInput,
        responses={201: APIKeyEnvelope},
    )
    def post(self, request: Request, slug: str) -> Response:
        key, raw = services.api_key_create(
            actor=self.actor(request), **_valid(APIKeyInput, request.data)
        )
        return envelope(
            "API key created. Copy it now: it is shown only once.",
            {**api_key_data(key), "key": raw},
            status=201,
        )


@extend_schema(tags=["organizations: api keys"])
class APIKeyDetailView(OrgView):
    org_roles: ClassVar[dict[str, str]] = {"delete": ADMIN}
    api_keys_allowed = False

    @extend_schema(operation_id="organizations_api_key_revoke", responses={200: OrgMessageEnvelope})
    def delete(self, request: Request, slug: str, key_id: int) -> Response:
        services.api_key_revoke(actor=self.actor(request), key_id=key_id)
        return envelope("API key revoked", {"message": "API key revoked"})
