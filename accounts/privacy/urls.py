"""GDPR export and account deletion (contract §3.6-3.8): singletons of the signed-in user, which
no router route fits, so each path is mapped explicitly to its viewset's actions."""

from __future__ import annotations

from django.urls import URLPattern, path

from accounts.privacy import api as privacy_api

export = privacy_api.DataExportViewSet.as_view
deletion = privacy_api.AccountDeletionViewSet.as_view

urlpatterns: list[URLPattern] = [
    path("users/me/export", export({"post": "create", "get": "retrieve"}), name="me-export"),
    path("users/me/export/download", export({"get": "download"}), name="me-export-download"),
    path(
        "users/me/delete",
        deletion({"post": "create", "get": "retrieve", "delete": "destroy"}),
        name="me-delete",
    ),
    path("users/me/delete/cancel", deletion({"post": "cancel"}), name="me-delete-cancel"),
]
