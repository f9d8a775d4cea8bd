"""Per-seat prices follow the member count: organizations tells billing after every membership
change (the `ORGANIZATION_MEMBERS_CHANGED` hook), and a job sets the subscription's quantity."""

from __future__ import annotations

from django.conf import settings

from billing.gateway import billing_enabled
from config.jobs import enqueue


def organization_members_changed(*, organization_id: int) -> None:
    """Queue the seat sync when any price is billed per seat (the job is idempotent)."""
    if settings.STRIPE_PER_SEAT_PRICE_IDS and billing_enabled():
        enqueue("sync_subscription_seats", organization_id=organization_id)
