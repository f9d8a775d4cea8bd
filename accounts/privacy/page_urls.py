"""Privacy pages: /settings/privacy/ (data export, account deletion)."""

from __future__ import annotations

from django.urls import URLPattern, path

from accounts.privacy import views as privacy_views

urlpatterns: list[URLPattern] = [
    path("settings/privacy/", privacy_views.privacy_settings, name="settings_privacy"),
    path(
        "settings/privacy/export",
        privacy_views.privacy_export_request_page,
        name="settings_privacy_export",
    ),
    path(
        "settings/privacy/delete",
        privacy_views.privacy_delete_request_page,
        name="settings_privacy_delete",
    ),
    path(
        "settings/privacy/delete/cancel",
        privacy_views.privacy_delete_cancel_page,
        name="settings_privacy_delete_cancel",
    ),
]
