"""Authentication API (contract §2) and the signed-in user's sessions and login history (§3.3)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts.auth import oauth, services, sessions, two_factor, verification
from accounts.auth.authentication import presented_token
from accounts.auth.cookies import REFRESH_COOKIE, clear_auth_cookies, set_auth_cookies
from accounts.auth.serializers import (
    AuthResponseOutput,
    BackupCodesOutput,
    CodeInput,
    EmailInput,
    LoginHistoryOutput,
    LoginHistoryPage,
    LoginInput,
    LogoutInput,
    OAuthProvidersOutput,
    OAuthStartOutput,
    OptionalEmailInput,
    RefreshInput,
    RegisterInput,
    ResetConfirmInput,
    SessionOutput,
    TokenResponseOutput,
    TwoFactorSetupOutput,
    TwoFactorStatusOutput,
    UserEnvelopeOutput,
    user_data,
)
from accounts.core import selectors
from accounts.core.requests import AuthenticatedRequest
from config.errors import DomainError, Unauthorized, ValidationFailed
from config.net import request_client_ip
from config.pagination import bool_param, paginate_page
from config.responses import envelope
from config.viewsets import validated
from security.serializers import MessageOutput


def auth_response(sign_in: sessions.SignIn, *, status: int = 200) -> Response:
    body = {
        "user": user_data(sign_in.user),
        "token": sign_in.access.token,
        "expires_in": sign_in.access.expires_in,
    }
    response = Response(body, status=status)
    set_auth_cookies(response, sign_in)
    return response


def token_response(sign_in: sessions.SignIn) -> Response:
    return Response(
        {
            "access_token": sign_in.access.token,
            "refresh_token": sign_in.refresh_token,
            "token_type": "Bearer",
            "expires_in": sign_in.access.expires_in,
            "user": user_data(sign_in.user),
        }
    )


# The sign-in steps (login, token, refresh, token refresh, logout), the email link (verify-email)
# and the OAuth redirects stay plain views: they are steps of a sign-in, not resources. The rest
# is one viewset per resource (docs/architecture.md, "Viewset conventions"). Viewsets carry no
# class docstrings: drf-spectacular would publish them as the description of every operation.


class PublicView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class PublicViewSet(GenericViewSet):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


# POST /auth/register: a new account, signed in.
@extend_schema(tags=["auth"])
class RegistrationViewSet(PublicViewSet):
    serializer_class = RegisterInput

    @extend_schema(
        operation_id="auth_register",
        request=RegisterInput,
        responses={
            201: AuthResponseOutput,
            403: OpenApiResponse(description="Registration is disabled"),
            409: OpenApiResponse(description="email: An account with this email already exists"),
        },
    )
    def create(self, request: Request) -> Response:
        sign_in = services.user_register(
            **validated(self, request.data), meta=sessions.RequestMeta.of(request)
        )
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
        sign_in = services.auth_login(**data.validated_data, meta=sessions.RequestMeta.of(request))
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
            services.auth_login(**data.validated_data, meta=sessions.RequestMeta.of(request))
        )


@extend_schema(tags=["auth"])
class RefreshView(PublicView):
    """Rotate the refresh cookie (it reaches only /api/v1/auth/*); failures clear the cookies."""

    @extend_schema(operation_id="auth_refresh", request=None, responses={200: AuthResponseOutput})
    def post(self, request: Request) -> Response:
        sign_in = sessions.session_refresh(
            refresh_token=request.COOKIES.get(REFRESH_COOKIE, ""),
            meta=sessions.RequestMeta.of(request),
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
            sessions.session_refresh(
                refresh_token=data.validated_data["refresh_token"],
                meta=sessions.RequestMeta.of(request),
            )
        )


def readable_body(request: Request) -> Any:
    """The parsed body, or `{}` when it cannot be parsed (malformed, unsupported media type,
    refused by the edge check): for the endpoints that must not fail on their input."""
    try:
        return request.data
    except (ParseError, UnsupportedMediaType, ValidationFailed):
        return {}


@extend_schema(tags=["auth"])
class LogoutView(PublicView):
    """Never fails: revokes what it can identify, clears the cookies."""

    @extend_schema(operation_id="auth_logout", request=LogoutInput, responses={200: MessageOutput})
    def post(self, request: Request) -> Response:
        data = LogoutInput(data=readable_body(request))
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


# GET /auth/me: the signed-in user (a singleton, mapped explicitly in accounts/urls.py).
@extend_schema(tags=["auth"])
class MeViewSet(GenericViewSet):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: UserEnvelopeOutput})
    def retrieve(self, request: AuthenticatedRequest) -> Response:
        return envelope("User retrieved successfully", user_data(request.user))


# The signed-in user's sessions: GET/DELETE /users/me/sessions (list; revoke the others) and
# DELETE /users/me/sessions/{session_id}. A DELETE on a collection fits no router route: the
# two paths are mapped explicitly in accounts/urls.py.
@extend_schema(tags=["account: sessions"])
class SessionViewSet(GenericViewSet):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="me_sessions", responses={200: SessionOutput(many=True)})
    def list(self, request: AuthenticatedRequest) -> Response:
        sessions = selectors.session_list_active(user=request.user)
        return Response(
            SessionOutput(
                sessions, many=True, context={"current_session_id": current_session_id(request)}
            ).data
        )

    @extend_schema(operation_id="me_sessions_revoke_others", responses={200: MessageOutput})
    def revoke_others(self, request: AuthenticatedRequest) -> Response:
        revoked = sessions.sessions_revoke_all(
            user=request.user, except_session_id=current_session_id(request)
        )
        return envelope("Other sessions revoked", {"revoked": revoked})

    @extend_schema(operation_id="me_session_revoke", responses={200: MessageOutput})
    def destroy(self, request: AuthenticatedRequest, session_id: int) -> Response:
        sessions.session_revoke(user=request.user, session_id=session_id)
        response = envelope("Session revoked")
        if session_id == current_session_id(request):
            clear_auth_cookies(response)
        return response


# GET /users/me/login-history: one page of the signed-in user's sign-ins.
@extend_schema(tags=["account: sessions"])
class LoginHistoryViewSet(GenericViewSet):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_login_history",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("limit", int)],
        responses={200: LoginHistoryPage},
    )
    def list(self, request: AuthenticatedRequest) -> Response:
        page = paginate_page(request, selectors.login_history_list(user=request.user))
        return Response(page.render("history", LoginHistoryOutput))


# --- Email verification and password reset (contract §2) ----------------------------------------


@extend_schema(tags=["auth"])
class VerifyEmailView(PublicView):
    @extend_schema(
        operation_id="auth_verify_email",
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={200: MessageOutput},
    )
    def get(self, request: Request) -> Response:
        verification.email_verify(token=request.query_params.get("token", ""))
        return envelope("Email verified successfully")


# POST /auth/verify-email/resend (the link itself, GET /auth/verify-email, is a plain view).
@extend_schema(tags=["auth"])
class EmailVerificationViewSet(GenericViewSet):
    permission_classes = [AllowAny]
    serializer_class = EmailInput

    @extend_schema(
        operation_id="auth_verify_email_resend",
        request=OptionalEmailInput,
        responses={200: MessageOutput},
    )
    @action(detail=False, methods=["post"])
    def resend(self, request: Request) -> Response:
        """Pub+: signed in, resends to the account's own address; else to `email`, silently."""
        message = "If the account exists and is not verified, a verification email has been sent"
        if request.user.is_authenticated:
            verification.email_verification_send(user=request.user)
            return envelope(message)
        verification.email_verification_resend(email=validated(self, request.data)["email"])
        return envelope(message)


# POST /auth/reset-password (a link by email) and /auth/reset-password/confirm (a new password).
@extend_schema(tags=["auth"])
class PasswordResetViewSet(PublicViewSet):
    def get_serializer_class(self) -> type[BaseSerializer]:
        return {"create": EmailInput, "confirm": ResetConfirmInput}[self.action]

    @extend_schema(
        operation_id="auth_reset_password", request=EmailInput, responses={200: MessageOutput}
    )
    def create(self, request: Request) -> Response:
        verification.password_reset_request(
            email=validated(self, request.data)["email"], ip=request_client_ip(request) or ""
        )
        return envelope("If the email exists, a password reset link has been sent")

    @extend_schema(
        operation_id="auth_reset_password_confirm",
        request=ResetConfirmInput,
        responses={200: MessageOutput},
    )
    @action(detail=False, methods=["post"])
    def confirm(self, request: Request) -> Response:
        verification.password_reset_confirm(
            **validated(self, request.data), ip=request_client_ip(request) or ""
        )
        return envelope("Password has been reset successfully")


# --- Two-factor (contract §3.4) ----------------------------------------------------------------


# /users/me/2fa/{status,setup,verify,disable,backup-codes}: the signed-in user's second factor.
@extend_schema(tags=["account: 2fa"])
class TwoFactorViewSet(GenericViewSet):
    permission_classes = [IsAuthenticated]
    serializer_class = CodeInput

    @extend_schema(operation_id="me_2fa_status", responses={200: TwoFactorStatusOutput})
    @action(detail=False, methods=["get"])
    def status(self, request: AuthenticatedRequest) -> Response:
        status = two_factor.two_factor_status(user=request.user)
        return Response(TwoFactorStatusOutput(status).data)

    @extend_schema(operation_id="me_2fa_setup", request=None, responses={200: TwoFactorSetupOutput})
    @action(detail=False, methods=["post"], url_path="setup", url_name="setup")
    def setup_start(self, request: AuthenticatedRequest) -> Response:
        # Not named `setup`: that is Django's View.setup.
        setup = two_factor.two_factor_setup(user=request.user)
        return Response(
            {
                "secret": setup.secret,
                "qr_code": setup.qr_png_base64,
                "qr_code_url": setup.otpauth_url,
                "otpauth_url": setup.otpauth_url,
            }
        )

    @extend_schema(
        operation_id="me_2fa_verify", request=CodeInput, responses={200: BackupCodesOutput}
    )
    @action(detail=False, methods=["post"])
    def verify(self, request: AuthenticatedRequest) -> Response:
        codes = two_factor.two_factor_enable(
            user=request.user,
            code=validated(self, request.data)["code"],
            ip=request_client_ip(request) or "",
        )
        return Response(
            {
                "backup_codes": codes,
                "message": "Two-factor authentication enabled. Store these backup codes safely; "
                "they are shown only once.",
            }
        )

    @extend_schema(operation_id="me_2fa_disable", request=CodeInput, responses={200: MessageOutput})
    @action(detail=False, methods=["post"])
    def disable(self, request: AuthenticatedRequest) -> Response:
        two_factor.two_factor_disable(
            user=request.user,
            code=validated(self, request.data)["code"],
            ip=request_client_ip(request) or "",
        )
        return envelope("Two-factor authentication disabled")

    @extend_schema(
        operation_id="me_2fa_backup_codes", request=CodeInput, responses={200: BackupCodesOutput}
    )
    @action(detail=False, methods=["post"], url_path="backup-codes")
    def backup_codes(self, request: AuthenticatedRequest) -> Response:
        codes = two_factor.backup_codes_regenerate(
            user=request.user, code=validated(self, request.data)["code"]
        )
        return Response(
            {"backup_codes": codes, "message": "New backup codes generated; the old ones are void."}
        )


# --- OAuth (contract §2, §2.3) ---------------------------------------------------------------


PROVIDER_PARAMETER = OpenApiParameter(
    "provider", str, OpenApiParameter.PATH, enum=list(oauth.PROVIDERS)
)


# The caller's OAuth links: GET /auth/oauth/providers (the linked ones), GET /auth/oauth/{provider}
# (start a sign-in or, with `?link=true`, a link) and DELETE /auth/oauth/{provider} (unlink).
# The list and its items live at different prefixes: mapped explicitly in accounts/urls.py.
@extend_schema(tags=["auth: oauth"])
class OAuthViewSet(GenericViewSet):
    def get_permissions(self) -> list[BasePermission]:
        # By route: `/auth/oauth/{provider}` is open (unlink answers 401 itself), also for the
        # methods it does not serve (a 405 after the same check, as a plain view does).
        if "start" in self.action_map.values():
            return [AllowAny()]
        return [IsAuthenticated()]

    @extend_schema(operation_id="auth_oauth_providers", responses={200: OAuthProvidersOutput})
    def providers(self, request: AuthenticatedRequest) -> Response:
        accounts = oauth.oauth_accounts(user=request.user)
        return Response(
            {
                "providers": [
                    {
                        "provider": a.provider,
                        "email": oauth.account_email(a),
                        "linked_at": a.date_joined,
                    }
                    for a in accounts
                ]
            }
        )

    @extend_schema(
        operation_id="auth_oauth_start",
        parameters=[PROVIDER_PARAMETER, OpenApiParameter("link", bool)],
        responses={200: OAuthStartOutput},
    )
    def start(self, request: Request, provider: str) -> Response:
        """Pub+: the provider URL the browser should open (`?link=true`: connect to the caller)."""
        link = bool_param(request, "link")
        if link and not request.user.is_authenticated:
            raise Unauthorized()
        start = oauth.oauth_start(
            request=request._request,
            provider_id=provider,
            link_user=request.user if link and request.user.is_authenticated else None,
        )
        return Response({"url": start.url, "state": start.state})

    @extend_schema(
        operation_id="auth_oauth_unlink",
        parameters=[PROVIDER_PARAMETER],
        responses={200: MessageOutput},
    )
    def destroy(self, request: Request, provider: str) -> Response:
        """Pub+: unlinks the provider from the caller's account (401 when signed out)."""
        if not request.user.is_authenticated:
            raise Unauthorized()
        oauth.oauth_account_unlink(user=request.user, provider=provider)
        return envelope(f"{provider.title()} account disconnected")


@extend_schema(tags=["auth: oauth"])
class OAuthNavigateView(APIView):
    """`GET /auth/{provider}?link=true`: a top-level navigation straight into the provider.
    Anonymous link requests go to the front end's login page."""

    permission_classes = [AllowAny]

    @extend_schema(  # one operation per provider path: ids are generated
        parameters=[OpenApiParameter("link", bool)],
        responses={302: None},
    )
    def get(self, request: Request, provider: str) -> HttpResponseBase:
        link = bool_param(request, "link")
        if link and not request.user.is_authenticated:
            return HttpResponseRedirect(f"{settings.FRONTEND_URL}/login")
        try:
            start = oauth.oauth_start(
                request=request._request,
                provider_id=provider,
                link_user=request.user if link and request.user.is_authenticated else None,
            )
        except DomainError as exc:
            return oauth.error_redirect(exc.message, link=link)
        return start.response


@extend_schema(tags=["auth: oauth"], parameters=[PROVIDER_PARAMETER])
class OAuthCallbackView(PublicView):
    """`/auth/oauth/{provider}/callback`: allauth's callback for that provider; ends in a 302 to
    `{FRONTEND_URL}/auth/callback?success=true[&new_user=true]` or `?error=`."""

    @extend_schema(
        operation_id="auth_oauth_callback",
        parameters=[OpenApiParameter("code", str), OpenApiParameter("state", str)],
        responses={302: None},
    )
    def get(self, request: Request, provider: str) -> HttpResponseBase:
        from allauth.socialaccount.providers.github.views import oauth2_callback as github
        from allauth.socialaccount.providers.google.views import oauth2_callback as google

        oauth.provider_for(request._request, provider)  # 404 unless known and configured
        view = {"google": google, "github": github}[provider]
        return view(request._request)
