"""Staff API for accounts (contract §3.2 `/users`, §11 `/admin/users*`, `/admin/stats`, §13.8
impersonation), and the page endpoint behind the impersonation banner's Stop button.

Actions parse, call one function of `accounts.staff.services`, render. The role rules live in the
services; the permission classes only give the contract's 401/403 early (and apply
`require_2fa_for_admins`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.viewsets import GenericViewSet

from accounts.auth import sessions
from accounts.auth.authentication import (
    ACCESS_COOKIE,
    TokenFailed,
    presented_token,
    user_for_claims,
)
from accounts.auth.cookies import set_auth_cookies
from accounts.auth.permissions import IsStaff, IsSuperAdmin
from accounts.auth.serializers import AuthResponseOutput, UserEnvelopeOutput, UserOutput, user_data
from accounts.core.requests import AuthenticatedRequest
from accounts.core.tokens import decode_access_token
from accounts.staff import services as staff
from accounts.staff.serializers import (
    AdminStatsOutput,
    ImpersonateInput,
    ImpersonateOutput,
    RoleInput,
    UserCreateInput,
    UserListFilters,
    UserPage,
    UserPageEnvelope,
    UserSearchFilters,
    UserUpdateInput,
)
from config.errors import BadRequest, DomainError
from config.pagination import paginate_page
from config.responses import envelope
from config.viewsets import validated
from security.serializers import MessageOutput

PAGE_PARAMETERS = [OpenApiParameter("page", int), OpenApiParameter("limit", int)]


def _claims(request: Request) -> dict[str, Any]:
    """The verified claims of the request's access token ({} for session or forced auth)."""
    return getattr(request._request, "keel_token_claims", None) or {}


def _users_page(request: Request, users: Any, *, default_limit: int = 20) -> dict[str, Any]:
    page = paginate_page(request, users, default_limit=default_limit)
    return page.as_dict("users", [user_data(u) for u in page.items])


class IsSelfOrStaff(BasePermission):
    """`/users/{id}`: the account itself, or staff (with the staff 2FA rule)."""

    message = "You can only access your own account"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if view.kwargs.get("user_id") == user.pk:
            return True
        return IsStaff().has_permission(request, view)


# Viewsets carry no class docstrings: drf-spectacular would publish them as the description of
# every operation.


# --- /users (contract §3.2) --------------------------------------------------------------------


# /users (staff list; a super admin creates), /users/{user_id} (the account itself or staff) and
# PATCH /users/{user_id}/role (staff).
@extend_schema(tags=["users"])
class UserViewSet(GenericViewSet):
    lookup_field = "user_id"
    lookup_value_converter = "int"
    permission_classes = [IsSelfOrStaff]

    def get_permissions(self) -> Sequence[Any]:
        if self.action == "create":
            return [IsSuperAdmin()]
        if not self.detail:  # the list route, also for the methods it does not serve (405)
            return [IsStaff()]
        return super().get_permissions()  # the item: IsSelfOrStaff; its role: IsStaff

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {
            "list": UserListFilters,
            "create": UserCreateInput,
            "update": UserUpdateInput,
            "role": RoleInput,
        }[self.action]

    @extend_schema(
        operation_id="users_list",
        parameters=[UserListFilters, *PAGE_PARAMETERS],
        responses={200: UserPageEnvelope},
    )
    def list(self, request: AuthenticatedRequest) -> Response:
        """Staff list users."""
        f = validated(self, request.query_params)
        users = staff.user_list(
            search=f.get("search") or "", role=f.get("role") or None, is_active=f.get("is_active")
        )
        return envelope(
            "Users retrieved successfully", _users_page(request, users, default_limit=10)
        )

    @extend_schema(
        operation_id="users_create",
        request=UserCreateInput,
        responses={
            201: UserEnvelopeOutput,
            409: OpenApiResponse(description="email: An account with this email already exists"),
        },
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        """A super admin creates a user."""
        user = staff.user_create(actor=request.user, **validated(self, request.data))
        return envelope("User created successfully", user_data(user), status=201)

    @extend_schema(operation_id="users_get", responses={200: UserEnvelopeOutput})
    def retrieve(self, request: AuthenticatedRequest, user_id: int) -> Response:
        user = staff.user_get_for(viewer=request.user, user_id=user_id)
        return envelope("User retrieved successfully", user_data(user))

    @extend_schema(
        operation_id="users_update",
        request=UserUpdateInput,
        responses={
            200: UserEnvelopeOutput,
            409: OpenApiResponse(description="email: An account with this email already exists"),
        },
    )
    def update(self, request: AuthenticatedRequest, user_id: int) -> Response:
        user = staff.user_update(
            actor=request.user, user_id=user_id, data=validated(self, request.data)
        )
        return envelope("User updated successfully", user_data(user))

    @extend_schema(operation_id="users_delete", responses={204: None})
    def destroy(self, request: AuthenticatedRequest, user_id: int) -> Response:
        staff.user_delete(actor=request.user, user_id=user_id)
        return Response(status=204)

    @extend_schema(
        operation_id="users_role_update", request=RoleInput, responses={200: UserEnvelopeOutput}
    )
    @action(detail=True, methods=["patch"], permission_classes=[IsStaff])
    def role(self, request: AuthenticatedRequest, user_id: int) -> Response:
        user = staff.user_role_set(
            actor=request.user, user_id=user_id, role=validated(self, request.data)["role"]
        )
        return envelope("User role updated successfully", user_data(user))


# --- /admin (contract §11) ---------------------------------------------------------------------


# GET /admin/stats (a singleton: mapped explicitly in accounts/staff/urls.py).
@extend_schema(tags=["admin: users"])
class AdminStatsViewSet(GenericViewSet):
    permission_classes = [IsStaff]

    @extend_schema(operation_id="admin_stats", responses={200: AdminStatsOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        return Response(staff.admin_stats())


# /admin/users: search, the deleted accounts, and the verbs on one account (role, deactivate,
# reactivate, restore). Staff; a super admin for the deleted, roles and restores.
@extend_schema(tags=["admin: users"])
class AdminUserViewSet(GenericViewSet):
    lookup_field = "user_id"
    lookup_value_converter = "int"
    permission_classes = [IsStaff]

    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"list": UserSearchFilters, "role": RoleInput}[self.action]

    @extend_schema(
        operation_id="admin_users_search",
        parameters=[UserSearchFilters, *PAGE_PARAMETERS],
        responses={200: UserPage},
    )
    def list(self, request: AuthenticatedRequest) -> Response:
        users = staff.user_list(search=validated(self, request.query_params).get("query") or "")
        return Response(_users_page(request, users))

    @extend_schema(
        operation_id="admin_users_deleted", parameters=PAGE_PARAMETERS, responses={200: UserPage}
    )
    @action(detail=False, methods=["get"], permission_classes=[IsSuperAdmin])
    def deleted(self, request: AuthenticatedRequest) -> Response:
        return Response(_users_page(request, staff.user_list_deleted()))

    @extend_schema(
        operation_id="admin_users_role_update",
        request=RoleInput,
        responses={200: UserOutput},
    )
    @action(detail=True, methods=["put"], permission_classes=[IsSuperAdmin])
    def role(self, request: AuthenticatedRequest, user_id: int) -> Response:
        user = staff.user_role_set(
            actor=request.user, user_id=user_id, role=validated(self, request.data)["role"]
        )
        return Response(user_data(user))

    @extend_schema(
        operation_id="admin_users_deactivate", request=None, responses={200: MessageOutput}
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request: AuthenticatedRequest, user_id: int) -> Response:
        staff.user_deactivate(actor=request.user, user_id=user_id)
        return envelope("User deactivated successfully")

    @extend_schema(
        operation_id="admin_users_reactivate", request=None, responses={200: MessageOutput}
    )
    @action(detail=True, methods=["post"])
    def reactivate(self, request: AuthenticatedRequest, user_id: int) -> Response:
        staff.user_reactivate(actor=request.user, user_id=user_id)
        return envelope("User reactivated successfully")

    @extend_schema(
        operation_id="admin_users_restore",
        request=None,
        responses={
            200: MessageOutput,
            409: OpenApiResponse(description="email: Another account uses this email address now"),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsSuperAdmin])
    def restore(self, request: AuthenticatedRequest, user_id: int) -> Response:
        staff.user_restore(actor=request.user, user_id=user_id)
        return envelope("User restored successfully")


# --- Impersonation (contract §13.8) ------------------------------------------------------------


# POST /admin/impersonate (a super admin becomes another user) and POST /admin/stop-impersonate
# (back to the admin): two routes with their own paths, mapped explicitly in
# accounts/staff/urls.py.
@extend_schema(tags=["admin: impersonation"])
class ImpersonationViewSet(GenericViewSet):
    serializer_class = ImpersonateInput

    def _starts(self) -> bool:
        # By route, so that the methods a route does not serve get the same checks (then 405).
        return "create" in self.action_map.values()

    def get_permissions(self) -> list[BasePermission]:
        return [IsSuperAdmin()] if self._starts() else [IsAuthenticated()]

    def check_permissions(self, request: Request) -> None:
        # Nesting is a 400, not the 403 the impersonated (non-admin) user would otherwise get.
        if (
            self._starts()
            and request.user.is_authenticated
            and _claims(request).get("original_user_id")
        ):
            raise BadRequest("Cannot impersonate while impersonating; stop first")
        super().check_permissions(request)

    @extend_schema(
        operation_id="admin_impersonate",
        request=ImpersonateInput,
        responses={200: ImpersonateOutput},
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        data = validated(self, request.data)
        result = staff.impersonation_start(
            admin=request.user,
            user_id=data["user_id"],
            reason=data["reason"],
            meta=sessions.RequestMeta.of(request),
            impersonating=bool(_claims(request).get("original_user_id")),
        )
        sign_in = result.sign_in
        response = Response(
            {
                "user": user_data(sign_in.user),
                "token": sign_in.access.token,
                "original_user_id": result.original_user.pk,
                "expires_in": sign_in.access.expires_in,
            }
        )
        if ACCESS_COOKIE in request.COOKIES:  # a browser: the cookies follow the impersonation
            set_auth_cookies(response, sign_in)
        return response

    @extend_schema(
        operation_id="admin_stop_impersonate", request=None, responses={200: AuthResponseOutput}
    )
    def stop(self, request: AuthenticatedRequest) -> Response:
        sign_in = staff.impersonation_stop(
            user=request.user,
            claims=_claims(request),
            access_token=presented_token(request._request),
            meta=sessions.RequestMeta.of(request),
        )
        response = Response(
            {
                "user": user_data(sign_in.user),
                "token": sign_in.access.token,
                "expires_in": sign_in.access.expires_in,
            }
        )
        if ACCESS_COOKIE in request.COOKIES:  # back to the admin's own cookies
            set_auth_cookies(response, sign_in)
        return response


@require_POST
def impersonation_stop_page(request: HttpRequest) -> HttpResponse:
    """The Stop button of the impersonation banner (a form, so no script is needed): ends the
    impersonation held in the `auth_token` cookie and returns to the admin's own account."""
    token = request.COOKIES.get(ACCESS_COOKIE, "")
    try:
        claims = decode_access_token(token) if token else {}
        if not claims.get("original_user_id"):
            messages.info(request, "You are not impersonating anyone.")
            return redirect("/")
        sign_in = staff.impersonation_stop(
            user=user_for_claims(claims),
            claims=claims,
            access_token=token,
            meta=sessions.RequestMeta.of(request),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("/")
    except TokenFailed as exc:  # the impersonated account is gone or inactive
        messages.error(request, str(exc.detail))
        return redirect("/")
    messages.success(request, f"Impersonation ended; you are {sign_in.user.email} again.")
    response = redirect("/")
    set_auth_cookies(response, sign_in)
    return response
