"""Organizations API (contract §4.2, §4.4): one viewset per resource, every route answers the E
shape. Routes under `organizations/{slug}` go through `OrgView`, whose one permission class
(organizations.permissions) resolves the organization and the caller's role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import GenericViewSet

from accounts.core.requests import AuthenticatedRequest
from config.errors import NotFound
from config.responses import envelope
from config.viewsets import validated
from organizations import selectors, services
from organizations.access import OrgActor
from organizations.models import OrgRole
from organizations.permissions import OrgRolePermission
from organizations.serializers import (
    MEMBER_ROW_FIELDS,
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
    member_row_data,
    organization_data,
)

MEMBER, ADMIN, OWNER = OrgRole.MEMBER, OrgRole.ADMIN, OrgRole.OWNER
SLUG = OpenApiParameter("slug", SLUG_PATH_SCHEMA, OpenApiParameter.PATH)


# Viewsets carry no class docstrings: drf-spectacular would publish them as the description of
# every operation. What a viewset is about is said in comments like this one.


# The base of the org-scoped viewsets. `action_roles` maps each action served under
# `organizations/{slug}` to the minimum org role; `keyless_actions` are refused to API keys.
# Every route made from a viewset (one URL pattern, by a router or `as_view({...})`) runs as its
# own subclass whose `org_roles` maps the route's HTTP methods to those roles and whose
# `api_keys_allowed` says whether a key may call it: what `OrgRolePermission` checks, and what
# the tenant isolation matrix reads from the pattern's `view_class`.
class OrgView(GenericViewSet):
    action_roles: ClassVar[dict[str, str]] = {}
    keyless_actions: ClassVar[frozenset[str]] = frozenset()
    org_roles: ClassVar[dict[str, str]] = {}  # per route (as_view): HTTP method -> minimum role
    api_keys_allowed = True  # per route (as_view)

    @classmethod
    def as_view(cls, actions: dict[str, Any] | None = None, **initkwargs: Any) -> Any:
        route = cls.route_class(actions or {})
        view = super(OrgView, route).as_view(actions, **initkwargs)
        view.view_class = route  # as Django's views do (DRF's viewsets set only `cls`)
        return view

    @classmethod
    def route_class(cls, actions: dict[str, Any]) -> type[OrgView]:
        """The class of one route: the viewset itself outside `{slug}` (no org roles)."""
        scoped = {method: name for method, name in actions.items() if name in cls.action_roles}
        if not scoped:
            return cls
        keyless = {name in cls.keyless_actions for name in scoped.values()}
        if len(scoped) != len(actions) or len(keyless) != 1:
            raise ImproperlyConfigured(f"{cls.__name__}: one route mixes access rules: {actions}")
        attrs: dict[str, Any] = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "org_roles": {method: cls.action_roles[name] for method, name in scoped.items()},
            "api_keys_allowed": not keyless.pop(),
        }
        attrs.update({method: getattr(cls, name) for method, name in scoped.items()})
        return type(cls.__name__, (cls,), attrs)

    def get_permissions(self) -> Sequence[Any]:
        if self.org_roles:
            return [OrgRolePermission()]
        return super().get_permissions()

    def actor(self) -> OrgActor:
        return self.request.org_actor


@extend_schema(tags=["organizations"])
class OrganizationViewSet(OrgView):
    lookup_field = "slug"
    action_roles: ClassVar[dict[str, str]] = {
        "retrieve": MEMBER,
        "update": ADMIN,
        "destroy": OWNER,
        "leave": MEMBER,
        "transfer_ownership": OWNER,
    }
    keyless_actions = frozenset({"leave", "transfer_ownership"})

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {
            "create": OrganizationCreateInput,
            "update": OrganizationUpdateInput,
            "transfer_ownership": TransferInput,
        }[self.action]

    @extend_schema(operation_id="organizations_list", responses={200: OrganizationListEnvelope})
    def list(self, request: AuthenticatedRequest) -> Response:
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
    def create(self, request: AuthenticatedRequest) -> Response:
        organization = services.organization_create(
            user=request.user, **validated(self, request.data)
        )
        return envelope(
            "Organization created successfully", organization_data(organization, OWNER), status=201
        )

    @extend_schema(
        operation_id="organizations_get", parameters=[SLUG], responses={200: OrganizationEnvelope}
    )
    def retrieve(self, request: Request, slug: str) -> Response:
        actor = self.actor()
        if actor.user is not None:
            services.organization_select(user=actor.user, organization=actor.organization)
        return envelope(
            "Organization retrieved successfully", organization_data(actor.organization, actor.role)
        )

    @extend_schema(
        operation_id="organizations_update",
        parameters=[SLUG],
        request=OrganizationUpdateInput,
        responses={200: OrganizationEnvelope},
    )
    def update(self, request: Request, slug: str) -> Response:
        actor = self.actor()
        organization = services.organization_update(actor=actor, **validated(self, request.data))
        return envelope(
            "Organization updated successfully", organization_data(organization, actor.role)
        )

    @extend_schema(
        operation_id="organizations_delete",
        parameters=[SLUG],
        responses={
            200: OrgMessageEnvelope,
            409: OpenApiResponse(description="The organization still has a live subscription"),
        },
    )
    def destroy(self, request: Request, slug: str) -> Response:
        services.organization_delete(actor=self.actor())
        return envelope("Organization deleted", {"message": "Organization deleted"})

    @extend_schema(
        operation_id="organizations_leave",
        parameters=[SLUG],
        request=None,
        responses={200: OrgMessageEnvelope},
    )
    @action(detail=True, methods=["post"])
    def leave(self, request: Request, slug: str) -> Response:
        services.organization_leave(actor=self.actor())
        return envelope("You left the organization", {"message": "You left the organization"})

    @extend_schema(
        operation_id="organizations_transfer_ownership",
        parameters=[SLUG],
        request=TransferInput,
        responses={200: OrganizationEnvelope},
    )
    @action(detail=True, methods=["post"], url_path="transfer-ownership")
    def transfer_ownership(self, request: Request, slug: str) -> Response:
        organization = services.ownership_transfer(
            actor=self.actor(), **validated(self, request.data)
        )
        return envelope("Ownership transferred", organization_data(organization, ADMIN))


@extend_schema(tags=["organizations: members"], parameters=[SLUG])
class MemberViewSet(OrgView):
    lookup_field = "user_id"
    lookup_value_converter = "int"
    action_roles: ClassVar[dict[str, str]] = {
        "list": MEMBER,
        "invite": ADMIN,
        "role": ADMIN,
        "destroy": ADMIN,
    }

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"invite": InviteInput, "role": OrgRoleInput}[self.action]

    @extend_schema(operation_id="organizations_members", responses={200: MemberListEnvelope})
    def list(self, request: Request, slug: str) -> Response:
        rows = selectors.member_list(organization=self.actor().organization).values(
            *MEMBER_ROW_FIELDS
        )
        return envelope("Members retrieved successfully", [member_row_data(r) for r in rows])

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
    @action(detail=False, methods=["post"])
    def invite(self, request: Request, slug: str) -> Response:
        invitation = services.invitation_create(actor=self.actor(), **validated(self, request.data))
        return envelope("Invitation sent", invitation_data(invitation), status=201)

    @extend_schema(
        operation_id="organizations_member_role",
        request=OrgRoleInput,
        responses={200: OrgMessageEnvelope},
    )
    @action(detail=True, methods=["put"])
    def role(self, request: Request, slug: str, user_id: int) -> Response:
        services.member_role_change(
            actor=self.actor(), user_id=user_id, **validated(self, request.data)
        )
        return envelope("Role updated", {"message": "Role updated"})

    @extend_schema(operation_id="organizations_member_remove", responses={200: OrgMessageEnvelope})
    def destroy(self, request: Request, slug: str, user_id: int) -> Response:
        services.member_remove(actor=self.actor(), user_id=user_id)
        return envelope("Member removed", {"message": "Member removed"})


@extend_schema(tags=["organizations: invitations"], parameters=[SLUG])
class InvitationViewSet(OrgView):
    lookup_field = "invitation_id"
    lookup_value_converter = "int"
    action_roles: ClassVar[dict[str, str]] = {"list": ADMIN, "destroy": ADMIN, "resend": ADMIN}

    @extend_schema(
        operation_id="organizations_invitations", responses={200: InvitationListEnvelope}
    )
    def list(self, request: Request, slug: str) -> Response:
        invitations = selectors.invitation_list_pending(organization=self.actor().organization)
        return envelope(
            "Invitations retrieved successfully", [invitation_data(i) for i in invitations]
        )

    @extend_schema(
        operation_id="organizations_invitation_revoke", responses={200: OrgMessageEnvelope}
    )
    def destroy(self, request: Request, slug: str, invitation_id: int) -> Response:
        services.invitation_revoke(actor=self.actor(), invitation_id=invitation_id)
        return envelope("Invitation revoked", {"message": "Invitation revoked"})

    @extend_schema(
        operation_id="organizations_invitation_resend",
        request=None,
        responses={200: InvitationEnvelope},
    )
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, slug: str, invitation_id: int) -> Response:
        invitation = services.invitation_resend(actor=self.actor(), invitation_id=invitation_id)
        return envelope("Invitation sent again", invitation_data(invitation))


@extend_schema(tags=["organizations: invitations"])
class InvitationTokenViewSet(GenericViewSet):
    # Answers to an invitation by the token of its link (`?token=` or the body).
    serializer_class = TokenInput

    def token(self) -> str:
        token = self.request.query_params.get("token")
        if not token:
            token = validated(self, self.request.data).get("token", "")
        if not token:
            raise NotFound("Invitation not found")
        return token

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
    @action(detail=False, methods=["post"])
    def accept(self, request: AuthenticatedRequest) -> Response:
        organization = services.invitation_accept(token=self.token(), user=request.user)
        role = selectors.organization_role(organization=organization, user=request.user)
        return envelope("Invitation accepted", organization_data(organization, role))

    @extend_schema(
        operation_id="invitations_decline",
        parameters=[OpenApiParameter("token", str)],
        request=TokenInput,
        responses={200: OrgMessageEnvelope},
    )
    @action(detail=False, methods=["post"], permission_classes=[AllowAny])
    def decline(self, request: Request) -> Response:
        """Pub+: anyone holding the link may decline."""
        services.invitation_decline(token=self.token())
        return envelope("Invitation declined", {"message": "Invitation declined"})


@extend_schema(tags=["organizations: api keys"], parameters=[SLUG])
class APIKeyViewSet(OrgView):
    lookup_field = "key_id"
    lookup_value_converter = "int"
    action_roles: ClassVar[dict[str, str]] = {"list": ADMIN, "create": ADMIN, "destroy": ADMIN}
    keyless_actions = frozenset(action_roles)
    serializer_class = APIKeyInput

    @extend_schema(operation_id="organizations_api_keys", responses={200: APIKeyListEnvelope})
    def list(self, request: Request, slug: str) -> Response:
        keys = selectors.api_key_list(organization=self.actor().organization)
        return envelope("API keys retrieved successfully", [api_key_data(k) for k in keys])

    @extend_schema(
        operation_id="organizations_api_key_create",
        request=APIKeyInput,
        responses={201: APIKeyEnvelope},
    )
    def create(self, request: Request, slug: str) -> Response:
        key, raw = services.api_key_create(actor=self.actor(), **validated(self, request.data))
        return envelope(
            "API key created. Copy it now: it is shown only once.",
            {**api_key_data(key), "key": raw},
            status=201,
        )

    @extend_schema(operation_id="organizations_api_key_revoke", responses={200: OrgMessageEnvelope})
    def destroy(self, request: Request, slug: str, key_id: int) -> Response:
        services.api_key_revoke(actor=self.actor(), key_id=key_id)
        return envelope("API key revoked", {"message": "API key revoked"})
