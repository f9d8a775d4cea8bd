"""Page routes of the accounts app (outside /api)."""

from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

from accounts.auth import views
from accounts.profile import views as settings_views
from accounts.staff import api as staff_api

urlpatterns = [
    path("accounts/2fa/", views.two_factor_challenge, name="account_two_factor"),
    # Keel manages the address itself (verification tokens, email change in settings):
    # allauth's email management page is not offered.
    path("accounts/email/", RedirectView.as_view(url="/settings/security/"), name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("verify-email", views.verify_email_page, name="verify_email_page"),
    path("reset-password", views.reset_password_page, name="reset_password_page"),
    path("impersonation/stop", staff_api.impersonation_stop_page, name="impersonation_stop"),
    path("settings/", RedirectView.as_view(url="/settings/profile/"), name="settings"),
    path("settings/profile/", settings_views.profile_page, name="settings_profile"),
    path("settings/profile/avatar", settings_views.avatar_page, name="settings_avatar"),
    path("settings/preferences/", settings_views.preferences_page, name="settings_preferences"),
    path("settings/activity/", settings_views.activity_page, name="settings_activity"),
    path("settings/security/", views.security_settings, name="settings_security"),
    path("settings/login-history/", views.login_history_page, name="settings_login_history"),
    path("settings/security/2fa/setup", views.two_factor_setup_page, name="settings_2fa_setup"),
    path("settings/security/2fa/enable", views.two_factor_enable_page, name="settings_2fa_enable"),
    path(
        "settings/security/2fa/disable", views.two_factor_disable_page, name="settings_2fa_disable"
    ),
    path(
        "settings/security/2fa/backup-codes",
        views.backup_codes_page,
        name="settings_2fa_backup_codes",
    ),
    path(
        "settings/security/sessions/<int:session_id>/revoke",
        views.session_revoke_page,
        name="settings_session_revoke",
    ),
    path(
        "settings/security/sessions/revoke-others",
        views.sessions_revoke_others_page,
        name="settings_sessions_revoke_others",
    ),
    path(
        "settings/security/verification/resend",
        views.verification_resend_page,
        name="settings_verification_resend",
    ),
    path("", include("accounts.privacy.page_urls")),
]
