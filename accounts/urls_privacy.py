"""GDPR export and account deletion (contract §3.6-3.8)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
