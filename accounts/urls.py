"""Accounts API routes (contract §2, §3): the collections and the verbs under a resource's path
on one router (no trailing slash; `path()` converters, as in the rest of the URLconf); the
singletons (`auth/me`, `users/me`, …), a collection answering DELETE and the OAuth links, whose
list and items live at different prefixes, mapped explicitly; the sign-in steps, the email link
and the OAuth redirects are plain views (docs/architecture.md, "Viewset conventions")."""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from accounts.auth import api
from accounts.profile import api as me_api

router = SimpleRouter(trailing_slash=False, use_regex_path=False)
router.register("auth/register", api.RegistrationViewSet, basename="auth-register")
router.register("auth/verify-email", api.EmailVerificationViewSet, basename="auth-verify-email")
router.register("auth/reset-password", api.PasswordResetViewSet, basename="auth-reset-password")
router.register("users/me/2fa", api.TwoFactorViewSet, basename="me-2fa")
router.register("users/me/login-history", api.LoginHistoryViewSet, basename="me-login-history")
router.register(
    "users/me/connected-accounts", me_api.ConnectedAccountViewSet, basename="me-connected-account"
)
router.register("users/me/activity", me_api.ActivityViewSet, basename="me-activity")

profile = me_api.ProfileViewSet.as_view
sessions = api.SessionViewSet.as_view
oauth = api.OAuthViewSet.as_view

urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/token/refresh", api.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", api.MeViewSet.as_view({"get": "retrieve"}), name="auth-me"),
    path("auth/verify-email", api.VerifyEmailView.as_view(), name="auth-verify-email"),
    # Before `auth/oauth/<str:provider>`, which would take "providers" for a provider.
    path("auth/oauth/providers", oauth({"get": "providers"}), name="auth-oauth-providers"),
    path(
        "auth/oauth/<str:provider>",
        oauth({"get": "start", "delete": "destroy"}),
        name="auth-oauth-start",
    ),
    path(
        "auth/oauth/<str:provider>/callback",
        api.OAuthCallbackView.as_view(),
        name="auth-oauth-callback",
    ),
    path(
        "auth/google",
        api.OAuthNavigateView.as_view(),
        {"provider": "google"},
        name="auth-oauth-navigate-google",
    ),
    path(
        "auth/github",
        api.OAuthNavigateView.as_view(),
        {"provider": "github"},
        name="auth-oauth-navigate-github",
    ),
    path(
        "users/me",
        profile({"get": "retrieve", "put": "update", "patch": "partial_update"}),
        name="me",
    ),
    path(
        "users/me/preferences",
        me_api.PreferencesViewSet.as_view({"get": "retrieve", "put": "update"}),
        name="me-preferences",
    ),
    path("users/me/password", profile({"put": "password"}), name="me-password"),
    path(
        "users/me/avatar",
        me_api.AvatarViewSet.as_view({"post": "create", "delete": "destroy"}),
        name="me-avatar",
    ),
    path(
        "users/<int:user_id>/avatar",
        me_api.UserAvatarViewSet.as_view({"get": "retrieve"}),
        name="user-avatar",
    ),
    path(
        "users/me/sessions",
        sessions({"get": "list", "delete": "revoke_others"}),
        name="me-sessions",
    ),
    path("users/me/sessions/<int:session_id>", sessions({"delete": "destroy"}), name="me-session"),
    *router.urls,
    # Privacy (GDPR export, deletion) and staff routes live in their own URL modules.
    path("", include("accounts.privacy.urls")),
    path("", include("accounts.staff.urls")),
]
