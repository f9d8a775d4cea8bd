from __future__ import annotations

from django.urls import include, path

from accounts.auth import api
from accounts.profile import api as me_api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/token/refresh", api.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
    path("auth/verify-email", api.VerifyEmailView.as_view(), name="auth-verify-email"),
    path(
        "auth/verify-email/resend",
        api.VerifyEmailResendView.as_view(),
        name="auth-verify-email-resend",
    ),
    path("auth/reset-password", api.ResetPasswordView.as_view(), name="auth-reset-password"),
    path(
        "auth/reset-password/confirm",
        api.ResetPasswordConfirmView.as_view(),
        name="auth-reset-password-confirm",
    ),
    path("auth/oauth/providers", api.OAuthProvidersView.as_view(), name="auth-oauth-providers"),
    path("auth/oauth/<str:provider>", api.OAuthStartView.as_view(), name="auth-oauth-start"),
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
    path("users/me", me_api.MeView.as_view(), name="me"),
    path("users/me/preferences", me_api.PreferencesView.as_view(), name="me-preferences"),
    path("users/me/password", me_api.PasswordView.as_view(), name="me-password"),
    path("users/me/avatar", me_api.AvatarView.as_view(), name="me-avatar"),
    path(
        "users/me/connected-accounts",
        me_api.ConnectedAccountsView.as_view(),
        name="me-connected-accounts",
    ),
    path(
        "users/me/connected-accounts/<str:provider>",
        me_api.ConnectedAccountDetailView.as_view(),
        name="me-connected-account",
    ),
    path("users/me/activity", me_api.ActivityView.as_view(), name="me-activity"),
    path("users/<int:user_id>/avatar", me_api.UserAvatarView.as_view(), name="user-avatar"),
    path("users/me/sessions", api.SessionListView.as_view(), name="me-sessions"),
    path("users/me/sessions/<int:session_id>", api.SessionDetailView.as_view(), name="me-session"),
    path("users/me/2fa/status", api.TwoFactorStatusView.as_view(), name="me-2fa-status"),
    path("users/me/2fa/setup", api.TwoFactorSetupView.as_view(), name="me-2fa-setup"),
    path("users/me/2fa/verify", api.TwoFactorVerifyView.as_view(), name="me-2fa-verify"),
    path("users/me/2fa/disable", api.TwoFactorDisableView.as_view(), name="me-2fa-disable"),
    path("users/me/2fa/backup-codes", api.BackupCodesView.as_view(), name="me-2fa-backup-codes"),
    path("users/me/login-history", api.LoginHistoryView.as_view(), name="me-login-history"),
    # Privacy (GDPR export, deletion) and staff routes live in their own URL modules.
    path("", include("accounts.privacy.urls")),
    path("", include("accounts.staff.urls")),
]
