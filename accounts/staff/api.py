"""Staff API for accounts (contract §3.2 `/users`, §11 `/admin/users*`, `/admin/stats`, §13.8
impersonation), and the page endpoint behind the impersonation banner's Stop button.

Views parse, call one function of `accounts.staff.services`, render. The role rules live in the
services; the permission classes only give the contract's 401/403 early (and apply
`require_2fa_for_admins`)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


# --- /users (contract §3.2) --------------------------------------------------------------------


@extend_schema(tags=["users"])
class UserListView(APIView):
    """GET: staff list users. POST: a super admin creates one."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsSuperAdmin()] if self.request.method == "POST" else [IsStaff()]

    @extend_schema(
        operation_id="users_list",
        parameters=[UserListFilters, *PAGE_PARAMETERS],
        responses={200: UserPageEnvelope},
    )
    def get(self, request: Request) -> Response:
        filters = UserListFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
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
    def post(self, request: Request) -> Response:
        data = UserCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff.user_create(actor=request.user, **data.validated_data)
        return envelope("User created successfully", user_data(user), status=201)


@extend_schema(tags=["users"])
class UserDetailView(APIView):
    permission_classes = [IsSelfOrStaff]

    @extend_schema(operation_id="users_get", responses={200: UserEnvelopeOutput})
    def get(self, request: Request, user_id: int) -> Response:
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
    def put(self, request: Request, user_id: int) -> Response:
        data = UserUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff.user_update(actor=request.user, user_id=user_id, data=data.validated_data)
        return envelope("User updated successfully", user_data(user))

    @extend_schema(operation_id="users_delete", responses={204: None})
    def delete(self, request: Request, user_id: int) -> Response:
        staff.user_delete(actor=request.user, user_id=user_id)
        return Response(status=204)


@extend_schema(tags=["users"])
class UserRoleView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="users_role_update", request=RoleInput, responses={200: UserEnvelopeOutput}
    )
    def patch(self, request: Request, user_id: int) -> Response:
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff.user_role_set(
            actor=request.user, user_id=user_id, role=data.validated_data["role"]
        )
        return envelope("User role updated successfully", user_data(user))


# --- /admin (contract §11) ---------------------------------------------------------------------


@extend_schema(tags=["admin: users"])
class AdminStatsView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(operation_id="admin_stats", responses={200: AdminStatsOutput})
    def get(self, request: Request) -> Response:
        return Response(staff.admin_stats())


@extend_schema(tags=["admin: users"])
class AdminUserSearchView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="admin_users_search",
        parameters=[UserSearchFilters, *PAGE_PARAMETERS],
        responses={200: UserPage},
    )
    def get(self, request: Request) -> Response:
        filters = UserSearchFilters(data=request.query_params)
        filters.is_valid(raise_exception=True)
        users = staff.user_list(search=filters.validated_data.get("query") or "")
        return Response(_users_page(request, users))


@extend_schema(tags=["admin: users"])
class AdminDeletedUsersView(APIView):
    permission_classes = [IsSuperAdmin]

    @extend_schema(
        operation_id="admin_users_deleted", parameters=PAGE_PARAMETERS, responses={200: UserPage}
    )
    def get(self, request: Request) -> Response:
        return Response(_users_page(request, staff.user_list_deleted()))


@extend_schema(tags=["admin: users"])
class AdminUserRoleView(APIView):
    permission_classes = [IsSuperAdmin]

    @extend_schema(
        operation_id="admin_users_role_update",
        request=RoleInput,
        responses={200: UserOutput},
    )
    def put(self, request: Request, user_id: int) -> Response:
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = staff.user_role_set(
            actor=request.user, user_id=user_id, role=data.validated_data["role"]
        )
        return Response(user_data(user))


@extend_schema(tags=["admin: users"])
class AdminUserDeactivateView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="admin_users_deactivate", request=None, responses={200: MessageOutput}
    )
    def post(self, request: Request, user_id: int) -> Response:
        staff.user_deactivate(actor=request.user, user_id=user_id)
        return envelope("User deactivated successfully")


@extend_schema(tags=["admin: users"])
class AdminUserReactivateView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        operation_id="admin_users_reactivate", request=None, responses={200: MessageOutput}
    )
    def post(self, request: Request, user_id: int) -> Response:
        staff.user_reactivate(actor=request.user, user_id=user_id)
        return envelope("User reactivated successfully")


@extend_schema(tags=["admin: users"])
class AdminUserRestoreView(APIView):
    permission_classes = [IsSuperAdmin]

    @extend_schema(
        operation_id="admin_users_restore",
        request=None,
        responses={
            200: MessageOutput,
            409: OpenApiResponse(description="email: Another account uses this email address now"),
        },
    )
    def post(self, request: Request, user_id: int) -> Response:
        staff.user_restore(actor=request.user, user_id=user_id)
        return envelope("User restored successfully")


# --- Impersonation (contract §13.8) ------------------------------------------------------------


@extend_schema(tags=["admin: impersonation"])
class ImpersonateView(APIView):
    permission_classes = [IsSuperAdmin]

    def check_permissions(self, request: Request) -> None:
        # Nesting is a 400, not the 403 the impersonated (non-admin) user would otherwise get.
        if request.user.is_authenticated and _claims(request).get("original_user_id"):
            raise BadRequest("Cannot impersonate while impersonating; stop first")
        super().check_permissions(request)

    @extend_schema(
        operation_id="admin_impersonate",
        request=ImpersonateInput,
        responses={200: ImpersonateOutput},
    )
    def post(self, request: Request) -> Response:
        data = ImpersonateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = staff.impersonation_start(
            admin=request.user,
            user_id=data.validated_data["user_id"],
            reason=data.validated_data["reason"],
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


@extend_schema(tags=["admin: impersonation"])
class StopImpersonateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_stop_impersonate", request=None, responses={200: AuthResponseOutput}
    )
    def post(self, request: Request) -> Response:
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
