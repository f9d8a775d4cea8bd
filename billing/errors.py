"""Billing's domain errors (rendered by config.errors like every other)."""

from __future__ import annotations

from config.errors import DomainError, ServiceUnavailable


class BillingDisabled(ServiceUnavailable):
    code = "BILLING_DISABLED"
    default_message = "Billing is not configured"


class StripeUnavailable(DomainError):
    """Stripe answered with an error or could not be reached (contract §0.7: 502)."""

    status = 502
    code = "INTERNAL_ERROR"
    default_message = "The payment provider could not be reached. Please try again."
