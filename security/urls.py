from __future__ import annotations

from django.urls import path

from security import api

urlpatterns = [
    path("admin/settings", api.SettingListView.as_view(), name="admin-settings"),
    path("admin/settings/email", api.EmailSettingsView.as_view(), name="admin-settings-email"),
    path(
        "admin/settings/email/test", api.EmailTestView.as_view(), name="admin-settings-email-test"
    ),
    path(
        "admin/settings/security",
        api.SecuritySettingsView.as_view(),
        name="admin-settings-security",
    ),
    path("admin/settings/site", api.SiteSettingsView.as_view(), name="admin-settings-site"),
    path(
        "admin/settings/<str:name>", api.SettingDetailView.as_view(), name="admin-settings-detail"
    ),
    path("admin/ip-blocklist", api.IPBlockListView.as_view(), name="admin-ip-blocklist"),
    path(
        "admin/ip-blocklist/<int:block_id>", api.IPBlockDetailView.as_view(), name="admin-ip-block"
    ),
    path("admin/audit-logs", api.AuditLogListView.as_view(), name="admin-audit-logs"),
]
