"""Billing API routes (contract §5.2, §4.2), mapped explicitly: each is one action."""

from __future__ import annotations

from django.urls import path

from billing import api

ORG = "organizations/<str:slug>/billing"

urlpatterns = [
    path("billing/config", api.BillingPublicViewSet.as_view({"get": "config"})),
    path("billing/plans", api.BillingPublicViewSet.as_view({"get": "plans"})),
    path("billing/checkout", api.BillingViewSet.as_view({"post": "checkout"})),
    path("billing/portal", api.BillingViewSet.as_view({"post": "portal"})),
    path("billing/subscription", api.BillingViewSet.as_view({"get": "subscription"})),
    path(ORG, api.OrganizationBillingViewSet.as_view({"get": "retrieve"})),
    path(f"{ORG}/checkout", api.OrganizationBillingViewSet.as_view({"post": "checkout"})),
    path(f"{ORG}/portal", api.OrganizationBillingViewSet.as_view({"post": "portal"})),
    path("webhooks/stripe", api.StripeWebhookView.as_view()),
]
