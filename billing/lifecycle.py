"""Billing in an account's lifecycle (accounts/lifecycle.py): the user's subscriptions and
invoices in the GDPR export, personal subscriptions cancelled at Stripe by the purge (contract
§3.8), and the subscription counts of the staff stats (§11)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from djstripe.models import Subscription

from accounts.lifecycle import AccountParticipant, PurgeStep
from accounts.models import User
from billing import entitlements, selectors, services
from billing.gateway import billing_enabled
from billing.plans import LIVE_STATUSES


class BillingLifecycle(AccountParticipant):
    export_readme = (
        (
            "billing",
            "your personal subscriptions and invoices (organization billing is the "
            "organization's); no card details: Keel never stores them",
        ),
    )

    def export(self, user: User) -> dict[str, Any]:
        customer_id = entitlements.user_customer_id(user)
        subscriptions = entitlements.customer_subscriptions(customer_id)
        return {
            "billing": {
                "stripe_customer_id": customer_id,
                "subscriptions": [
                    selectors.subscription_data(s, user_id=user.pk, organization_id=None)
                    for s in subscriptions
                ],
                "invoices": selectors.invoice_list(customer_id, limit=500),
            }
        }

    def _live(self, user: User) -> list[Subscription]:
        subscriptions = entitlements.customer_subscriptions(entitlements.user_customer_id(user))
        return [
            s
            for s in subscriptions
            if entitlements.subscription_status(s) in (*LIVE_STATUSES, "unpaid", "incomplete")
        ]

    def purge_plan(self, user: User) -> list[str]:
        return [f"stripe subscription {s.id}: cancelled at Stripe" for s in self._live(user)]

    def purge(self, user: User) -> PurgeStep:
        if not self._live(user):
            return PurgeStep()
        if not billing_enabled():
            # Stripe cannot be reached without a key: the purge goes on (the user asked to be
            # deleted) and the audit entry says what was left for staff to cancel by hand.
            return PurgeStep(
                metadata={"stripe_subscriptions_not_cancelled": [s.id for s in self._live(user)]}
            )
        cancelled = services.personal_subscriptions_cancel(user=user)
        return PurgeStep(metadata={"stripe_subscriptions_cancelled": cancelled})

    def staff_stats(self) -> dict[str, int]:
        return Subscription.objects.aggregate(
            total_subscriptions=Count("pk"),
            active_subscriptions=Count("pk", filter=Q(stripe_data__status__in=LIVE_STATUSES)),
            canceled_subscriptions=Count("pk", filter=Q(stripe_data__status="canceled")),
        )
