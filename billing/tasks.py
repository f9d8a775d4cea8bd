"""Billing jobs (contract §14): the billing emails, the per-seat quantity, the daily catalogue
sync."""

from __future__ import annotations

import logging
from datetime import time

from django.conf import settings
from djstripe.models import Invoice, Subscription

from accounts.models import User
from billing import services
from billing.gateway import billing_enabled
from config.emails import email_send
from config.jobs import periodic, task
from organizations.models import Organization

logger = logging.getLogger("keel.billing")


@task(retries=5)
def send_billing_email(
    *,
    user_id: int,
    template: str,
    organization_id: int | None = None,
    invoice_id: str | None = None,
    subscription_id: str | None = None,
) -> None:
    """`payment_failed` or `trial_ending`, to the user or one of the org's owners."""
    user = User.objects.alive().filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    organization = (
        Organization.objects.filter(pk=organization_id, deleted_at__isnull=True).first()
        if organization_id
        else None
    )
    invoice = Invoice.objects.filter(id=invoice_id).first() if invoice_id else None
    subscription = (
        Subscription.objects.filter(id=subscription_id).first() if subscription_id else None
    )
    data = invoice.stripe_data if invoice is not None else {}
    billing_path = f"/org/{organization.slug}/billing" if organization else "/billing"
    email_send(
        to=user.email,
        template=template,
        context={
            "user": user,
            "organization": organization,
            "amount_due": int(data.get("amount_due") or 0) / 100,
            "currency": str(data.get("currency") or "usd").upper(),
            "invoice_number": data.get("number") or "",
            "trial_end": subscription.stripe_data.get("trial_end") if subscription else None,
            "billing_url": f"{settings.SITE_URL}{billing_path}",
        },
    )


@task(retries=3)
def sync_subscription_seats(*, organization_id: int) -> bool:
    return services.seats_sync(organization_id=organization_id)


@periodic("sync_billing_catalogue", daily_at=time(4, 0))
def sync_billing_catalogue() -> dict[str, int]:
    """Products and prices again from Stripe, in case a webhook was missed."""
    if not billing_enabled():
        return {}
    return services.catalogue_sync()
