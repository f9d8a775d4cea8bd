"""Privacy pages: /settings/privacy/ (data export, account deletion)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
