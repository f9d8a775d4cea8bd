"""Staff routes: /users (staff parts), /admin/users*, /admin/stats, impersonation (§3.2, §11)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
