"""Usage API routes (contract §6.2, §4.2), mapped explicitly: each is one action."""

from __future__ import annotations

from django.urls import path

from usage import api

ORG = "organizations/<str:slug>/usage"

urlpatterns = [
    path("usage", api.UsageViewSet.as_view({"get": "summary"})),
    path("usage/record", api.UsageViewSet.as_view({"post": "record"})),
    path("usage/events", api.UsageViewSet.as_view({"post": "events"})),
    path("usage/history", api.UsageViewSet.as_view({"get": "history"})),
    path("usage/alerts", api.UsageViewSet.as_view({"get": "alerts"})),
    path(
        "usage/alerts/<int:alert_id>/acknowledge",
        api.UsageViewSet.as_view({"post": "acknowledge"}),
    ),
    path(ORG, api.OrganizationUsageViewSet.as_view({"get": "summary"})),
    path(f"{ORG}/record", api.OrganizationUsageViewSet.as_view({"post": "record"})),
    path(f"{ORG}/events", api.OrganizationUsageViewSet.as_view({"post": "events"})),
]
