"""Page routes of the billing app (outside /api; contract §0.1 `/billing`)."""

from __future__ import annotations

from django.urls import path
from django.views.generic import RedirectView

from billing import views

org = "org/<slug:slug>/billing"

urlpatterns = [
    path("pricing", views.pricing_page, name="pricing"),
    path("billing", views.billing_page, name="billing"),
    path("billing/checkout", views.checkout_page, name="billing_checkout"),
    path("billing/portal", views.portal_page, name="billing_portal"),
    path("billing/success", views.checkout_success_page, name="billing_success"),
    path("billing/cancel", views.checkout_cancel_page, name="billing_cancel"),
    # The usage alerts' `upgradeUrl` (contract §6).
    path("settings/billing", RedirectView.as_view(pattern_name="billing"), name="settings_billing"),
    path(org, views.org_billing_page, name="org_billing"),
    path(f"{org}/checkout", views.org_checkout_page, name="org_billing_checkout"),
    path(f"{org}/portal", views.org_portal_page, name="org_billing_portal"),
]
