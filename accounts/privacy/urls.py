"""GDPR export and account deletion (contract §3.6-3.8)."""

from __future__ import annotations

from django.urls import URLPattern, path

from accounts.privacy import api as privacy_api

urlpatterns: list[URLPattern] = [
    path("users/me/export", privacy_api.DataExportView.as_view(), name="me-export"),
    path(
        "users/me/export/download",
        privacy_api.DataExportDownloadView.as_view(),
        name="me-export-download",
    ),
    path("users/me/delete", privacy_api.AccountDeletionView.as_view(), name="me-delete"),
    path(
        "users/me/delete/cancel",
        privacy_api.AccountDeletionCancelView.as_view(),
        name="me-delete-cancel",
    ),
]
