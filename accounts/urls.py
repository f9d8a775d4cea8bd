from __future__ import annotations

from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/token", api.TokenView.as_view(), name="auth-token"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/token/refresh", api.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
    path("users/me/sessions", api.SessionListView.as_view(), name="me-sessions"),
    path("users/me/sessions/<int:session_id>", api.SessionDetailView.as_view(), name="me-session"),
    path("users/me/login-history", api.LoginHistoryView.as_view(), name="me-login-history"),
]
