"""Authentication API (contract §2) and the signed-in user's sessions and login history (§3.3)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import ACCESS_COOKIE, presented_token
from accounts.serializers import (
    AuthResponseOutput,
    LoginHistoryOutput,
    LoginHistoryPage,
    LoginInput,
    LogoutInput,
    RefreshInput,
    RegisterInput,
    SessionOutput,
    TokenResponseOutput,
    UserEnvelopeOutput,
    UserOutput,
)
from config.net import request_client_ip
from config.pagination import paginate_page
from config.responses import envelope
from security.serializers import MessageOutput
from security.system_settings import get_setting

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/v1/auth"


def request_meta(request: Request | HttpRequest) -> services.RequestMeta:
    return services.RequestMeta(
        ip=request_client_ip(request) or None,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _cookie_flags() -> dict[str, Any]:
    return {
        "secure": settings.COOKIE_SECURE,
        "httponly": True,
        "samesite": settings.COOKIE_SAMESITE,
        "domain": settings.COOKIE_DOMAIN,
    }


def set_auth_cookies(response: Response, sign_in: services.SignIn) -> None:
    response.set_cookie(
        ACCESS_COOKIE,
        sign_in.access.token,
        max_age=sign_in.access.expires_in,
        path="/",
        **_cookie_flags(),
    )
    response.set_cookie(
        REFRESH_COOKIE,
        sign_in.refresh_token,
        max_age=int(get_setting("session_timeout_minutes")) * 60,
        path=REFRESH_COOKIE_PATH,
        **_cookie_flags(),
    )


def clear_auth_cookies(response: Response) -> None:
    response.delete_cookie(
        ACCESS_COOKIE, path="/", domain=settings.COOKIE_DOMAIN, samesite=settings.COOKIE_SAMESITE
    )
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        domain=settings.COOKIE_DOMAIN,
        samesite=settings.COOKIE_SAMESITE,
    )


def auth_response(sign_in: services.SignIn, *, status: int = 200) -> Response:
    body = {
        "user": UserOutput(sign_in.user).data,
        "token": sign_in.access.token,
        "expires_in": sign_in.access.expires_in,
    }
    response = Response(body, status=status)
    set_auth_cookies(response, sign_in)
    return response


def token_response(sign_in: services.SignIn) -> Response:
    return Response(
        {
            "access_token": sign_in.access.token,
            "refresh_token": sign_in.refresh_token,
            "token_type": "Bearer",
            "expires_in": sign_in.access.expires_in,
            "user": UserOutput(sign_in.user).data,
        }
    )


class PublicView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


@extend_schema(tags=["auth"])
class RegisterView(PublicView):
    @extend_schema(
        operation_id="auth_register", request=RegisterInput, responses={201: AuthResponseOutput}
    )
    def post(self, request: Request) -> Response:
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        sign_in = services.user_register(**data.validated_data, meta=request_meta(request))
        rotate_token(request._request)
        return auth_response(sign_in, status=201)


@extend_schema(tags=["auth"])
class LoginView(PublicView):
    @extend_schema(
        operation_id="auth_login", request=LoginInput, responses={200: AuthResponseOutput}
    )
    def post(self, request: Request) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        sign_in = services.auth_login(**data.validated_data, meta=request_meta(request))
        rotate_token(request._request)
        return auth_response(sign_in)


@extend_schema(tags=["auth"])
class TokenView(PublicView):
    """Sign-in for non-browser clients: tokens in the body, no cookies."""

    @extend_schema(
        operation_id="auth_token", request=LoginInput, responses={200: TokenResponseOutput}
    )
    def post(self, request: Request) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        return token_response(
            services.auth_login(**data.validated_data, meta=request_meta(request))
        )


@extend_schema(tags=["auth"])
class RefreshView(PublicView):
    """Rotate the refresh cookie (it reaches only /api/v1/auth/*); failures clear the cookies."""

    @extend_schema(operation_id="auth_refresh", request=None, responses={200: AuthResponseOutput})
    def post(self, request: Request) -> Response:
        sign_in = services.session_refresh(
            refresh_token=request.COOKIES.get(REFRESH_COOKIE, ""), meta=request_meta(request)
        )
        return auth_response(sign_in)

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        clear_auth_cookies(response)
        return response


@extend_schema(tags=["auth"])
class TokenRefreshView(PublicView):
    @extend_schema(
        operation_id="auth_token_refresh",
        request=RefreshInput,
        responses={200: TokenResponseOutput},
    )
    def post(self, request: Request) -> Response:
        data = RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        return token_response(
            services.session_refresh(
                refresh_token=data.validated_data["refresh_token"], meta=request_meta(request)
            )
        )


@extend_schema(tags=["auth"])
class LogoutView(PublicView):
    """Never fails: revokes what it can identify, clears the cookies."""

    @extend_schema(operation_id="auth_logout", request=LogoutInput, responses={200: MessageOutput})
    def post(self, request: Request) -> Response:
        data = LogoutInput(data=request.data)
        body_token = data.validated_data.get("refresh_token") if data.is_valid() else None
        services.auth_logout(
            access_token=presented_token(request._request),
            refresh_token=request.COOKIES.get(REFRESH_COOKIE) or body_token,
        )
        rotate_token(request._request)
        response = envelope("Logout successful")
        clear_auth_cookies(response)
        return response


def current_session_id(request: Request) -> int | None:
    claims = getattr(request._request, "keel_token_claims", None)
    return claims.get("sid") if claims else None


@extend_schema(tags=["auth"])
class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: UserEnvelopeOutput})
    def get(self, request: Request) -> Response:
        return envelope("User retrieved successfully", UserOutput(request.user).data)


@extend_schema(tags=["account: sessions"])
class SessionListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me_sessions", responses={200: SessionOutput(many=True)})
    def get(self, request: Request) -> Response:
        sessions = selectors.session_list_active(user=request.user)
        return Response(
            SessionOutput(
                sessions, many=True, context={"current_session_id": current_session_id(request)}
            ).data
        )

    @extend_schema(operation_id="me_sessions_revoke_others", responses={200: MessageOutput})
    def delete(self, request: Request) -> Response:
        revoked = services.sessions_revoke_all(
            user=request.user, except_session_id=current_session_id(request)
        )
        return envelope("Other sessions revoked", {"revoked": revoked})


@extend_schema(tags=["account: sessions"])
class SessionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me_session_revoke", responses={200: MessageOutput})
    def delete(self, request: Request, session_id: int) -> Response:
        services.session_revoke(user=request.user, session_id=session_id)
        response = envelope("Session revoked")
        if session_id == current_session_id(request):
            clear_auth_cookies(response)
        return response


@extend_schema(tags=["account: sessions"])
class LoginHistoryView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_login_history",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses={200: LoginHistoryPage},
    )
    def get(self, request: Request) -> Response:
        page = paginate_page(request, selectors.login_history_list(user=request.user))
        return Response(page.as_dict("history", LoginHistoryOutput(page.items, many=True).data))
