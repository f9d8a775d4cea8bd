"""The one door to Stripe: the stripe library pointed at `STRIPE_API_BASE` with Keel's key,
timeouts and retries, and Stripe's failures turned into domain errors.

Every call Keel makes to Stripe goes through `stripe_call`, so a Stripe error or an
unreachable Stripe becomes 502 with a clear message (never a 500), and billing switched off
becomes 503 `BILLING_DISABLED` before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import stripe
from django.conf import settings

from billing.errors import BillingDisabled, StripeUnavailable

logger = logging.getLogger("keel.billing")
T = TypeVar("T")


def billing_enabled() -> bool:
    return bool(settings.STRIPE_ENABLED and settings.STRIPE_SECRET_KEY)


def stripe_configure() -> None:
    """Point the stripe library (and dj-stripe, which uses it) at the configured API."""
    stripe.api_key = settings.STRIPE_SECRET_KEY or None
    stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = settings.STRIPE_MAX_NETWORK_RETRIES
    stripe.default_http_client = stripe.new_default_http_client(
        timeout=settings.STRIPE_TIMEOUT_SECONDS
    )
    stripe.enable_telemetry = False


def require_billing() -> None:
    if not billing_enabled():
        raise BillingDisabled()


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Turn the stripe library's errors raised inside into `StripeUnavailable` (502): around a
    Stripe call together with dj-stripe's sync of its answer, which may call Stripe again
    (the account on a first sync, nested objects)."""
    try:
        yield
    except stripe.StripeError as error:
        message = error.user_message or ""
        logger.warning(
            "stripe call failed",
            extra={"stripe_error": type(error).__name__, "stripe_message": str(error)},
        )
        detail = f": {message}" if message else ""
        raise StripeUnavailable(
            f"The payment provider refused the request{detail}"
            if isinstance(error, stripe.InvalidRequestError)
            else f"The payment provider could not be reached{detail}. Please try again."
        ) from error


def stripe_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call the stripe library; its errors become `StripeUnavailable` (502)."""
    require_billing()
    if stripe.api_base != settings.STRIPE_API_BASE:  # settings overridden (tests, sandbox)
        stripe_configure()
    kwargs.setdefault("api_key", settings.STRIPE_SECRET_KEY)
    with stripe_errors():
        return fn(*args, **kwargs)
