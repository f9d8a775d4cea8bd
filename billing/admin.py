"""Billing in Keel's Django admin (issue 13, item 8).

dj-stripe registers an admin for each of its models (products, prices, customers,
subscriptions, invoices, events...), so the mirror is readable as it is. Keel replaces two of
them with subclasses of dj-stripe's own classes:

- Customers and subscriptions get a "Keel subscriber" column and field linking to the user's or
  the organization's admin page (an organization's customer is the one in
  `Organization.stripe_customer_id`; a user's is dj-stripe's `Customer.subscriber`), computed in
  the changelist's one query (no query per row).
- A staff action "Re-sync from Stripe" re-reads the customer's subscriptions from Stripe and
  re-applies Keel's rules (`billing.services.customer_refresh`, what `manage.py billing_resync`
  does), and reports the changes, or the error, as messages.

The organization admin gains a read-only "Stripe billing" field (links to the mirror's customer
and subscription) and the same re-sync action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar, cast

from django.contrib import admin, messages
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from djstripe.admin.admin import CustomerAdmin as DjstripeCustomerAdmin
from djstripe.admin.admin import SubscriptionAdmin as DjstripeSubscriptionAdmin
from djstripe.models import Customer, Subscription

from billing import services
from billing.gateway import billing_enabled
from config.errors import DomainError
from organizations.admin import OrganizationAdmin
from organizations.models import Organization

logger = logging.getLogger("keel.billing")
EMPTY = "—"


def _organization_of(customer_ref: str) -> dict[str, Subquery]:
    """Annotations: the organization billed through the customer in `customer_ref` (a live one
    first), for the changelist's own query."""
    orgs = Organization.objects.filter(stripe_customer_id=OuterRef(customer_ref)).order_by(
        F("deleted_at").asc(nulls_first=True), "pk"
    )
    return {
        "keel_org_pk": Subquery(orgs.values("pk")[:1]),
        "keel_org_name": Subquery(orgs.values("name")[:1]),
    }


def subscriber_link(obj: Any, customer: Customer | None) -> SafeString | str:
    """A link to the Keel organization (annotated on `obj`) or user (the customer's subscriber)."""
    org_pk = getattr(obj, "keel_org_pk", None)
    if org_pk is not None:
        url = reverse("admin:organizations_organization_change", args=[org_pk])
        return format_html('<a href="{}">Organization: {}</a>', url, obj.keel_org_name)
    if customer is not None and customer.subscriber_id is not None:
        url = reverse("admin:accounts_user_change", args=[customer.subscriber_id])
        return format_html('<a href="{}">User: {}</a>', url, customer.subscriber)
    return EMPTY


def resync_customers(
    modeladmin: admin.ModelAdmin, request: HttpRequest, customer_ids: Iterable[str]
) -> None:
    """Re-sync each customer from Stripe and say what changed; errors become messages."""
    if not billing_enabled():
        modeladmin.message_user(
            request,
            "Billing is disabled (no STRIPE_SECRET_KEY): nothing re-synced.",
            messages.ERROR,
        )
        return
    for customer_id in dict.fromkeys(c for c in customer_ids if c):
        try:
            changed = services.customer_refresh(customer_id=customer_id, source="resync:admin")
        except DomainError as error:
            modeladmin.message_user(request, f"{customer_id}: {error.message}", messages.ERROR)
            continue
        except Exception as error:  # a failure is reported to staff, never a 500
            logger.exception("admin resync failed", extra={"customer": customer_id})
            modeladmin.message_user(
                request, f"{customer_id}: re-sync failed ({type(error).__name__})", messages.ERROR
            )
            continue
        if changed:
            modeladmin.message_user(
                request, f"{customer_id}: {'; '.join(changed)}", messages.SUCCESS
            )
        else:
            modeladmin.message_user(
                request, f"{customer_id}: already up to date, nothing changed.", messages.INFO
            )


admin.site.unregister(Customer)
admin.site.unregister(Subscription)


@admin.register(Customer)
class KeelCustomerAdmin(DjstripeCustomerAdmin):
    # `Any`: dj-stripe's attributes are fixed-length tuples to mypy; these are longer.
    list_display: Any = ("keel_subscriber", *DjstripeCustomerAdmin.list_display)
    readonly_fields: ClassVar[Any] = ("keel_subscriber",)
    list_select_related = ("djstripe_owner_account", "subscriber", "default_payment_method")
    actions: Any = (*DjstripeCustomerAdmin.actions, "resync_from_stripe")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).annotate(**_organization_of("id"))

    @admin.display(description="Keel subscriber")
    def keel_subscriber(self, obj: Customer) -> SafeString | str:
        return subscriber_link(obj, obj)

    @admin.action(
        description="Re-sync from Stripe (subscriptions, plan, seats, role)", permissions=["change"]
    )
    def resync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        resync_customers(self, request, queryset.values_list("id", flat=True))


@admin.register(Subscription)
class KeelSubscriptionAdmin(DjstripeSubscriptionAdmin):
    list_display: Any = ("keel_subscriber", "status", *DjstripeSubscriptionAdmin.list_display)
    readonly_fields: ClassVar[Any] = ("keel_subscriber",)
    list_select_related = ("djstripe_owner_account", "customer", "customer__subscriber")
    actions: Any = (*DjstripeSubscriptionAdmin.actions, "resync_from_stripe")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return (
            super()
            .get_queryset(request)
            .select_related("customer__subscriber")
            .annotate(**_organization_of("customer_id"))
        )

    @admin.display(description="Keel subscriber")
    def keel_subscriber(self, obj: Subscription) -> SafeString | str:
        # dj-stripe's own foreign-key field hides the related type from the stubs.
        return subscriber_link(obj, cast(Customer | None, obj.customer))

    @admin.display(description="Status")
    def status(self, obj: Subscription) -> str:
        return str(obj.stripe_data.get("status") or EMPTY)

    @admin.action(
        description="Re-sync their customers from Stripe (plan, seats, role)",
        permissions=["change"],
    )
    def resync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        customer_ids = queryset.values_list("customer_id", flat=True)  # Stripe ids (to_field)
        resync_customers(self, request, (str(c) for c in customer_ids if c))


admin.site.unregister(Organization)


@admin.register(Organization)
class BillingOrganizationAdmin(OrganizationAdmin):
    """organizations' own admin, plus links to the organization's Stripe mirror rows and the
    re-sync action (billing extends it; organizations does not know billing)."""

    readonly_fields = (*OrganizationAdmin.readonly_fields, "stripe_billing")
    actions = [*OrganizationAdmin.actions, "resync_from_stripe"]

    @admin.display(description="Stripe billing")
    def stripe_billing(self, obj: Organization) -> SafeString | str:
        """Links to the mirror's customer and subscription (the change page only: two queries)."""
        links = []
        for label, model, stripe_id in (
            ("Customer", Customer, obj.stripe_customer_id),
            ("Subscription", Subscription, obj.stripe_subscription_id),
        ):
            if not stripe_id:
                continue
            pk = model.objects.filter(id=stripe_id).values_list("pk", flat=True).first()
            name = model._meta.model_name
            url = reverse(f"admin:djstripe_{name}_change", args=[pk]) if pk is not None else ""
            links.append((label, url or "#", stripe_id))
        if not links:
            return EMPTY
        return format_html_join(" · ", '{}: <a href="{}">{}</a>', links)

    @admin.action(description="Re-sync billing from Stripe", permissions=["change"])
    def resync_from_stripe(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        ids = list(queryset.values_list("stripe_customer_id", flat=True))
        if not any(ids):
            self.message_user(request, "None of these organizations has a Stripe customer.")
            return
        resync_customers(self, request, (i for i in ids if i))
