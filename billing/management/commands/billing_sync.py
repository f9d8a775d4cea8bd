"""`manage.py billing_sync`: pull Stripe's products and prices into dj-stripe's mirror.

What `GET /billing/plans` and the pricing page read. Idempotent: a second run rewrites the same
rows. The daily `sync_billing_catalogue` job does the same; `product.*` and `price.*` webhooks
keep the mirror current between runs.
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from djstripe.exceptions import InvalidStripeAPIKey

from accounts.management.commands._progress import ProgressBar
from billing import services
from billing.errors import BillingDisabled, StripeUnavailable
from billing.gateway import billing_enabled
from billing.management.commands._stripe_logs import stripe_requests_quiet


class Command(BaseCommand):
    help = (
        "Pull every product and price from Stripe (STRIPE_API_BASE) into the mirror that the "
        "plans list reads. Idempotent; shows progress."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not billing_enabled():
            raise CommandError(
                "Billing is disabled: set STRIPE_SECRET_KEY (and leave STRIPE_ENABLED on); "
                "see docs/billing.md."
            )
        self.stdout.write(f"Syncing products and prices from {settings.STRIPE_API_BASE} ...")
        bar = ProgressBar(self.stdout, label="listing")

        def progress(done: int, total: int) -> None:
            bar.label = f"{done}/{total}"
            bar.percent = -1  # redraw: the label changed
            bar(done * 100 // total if total else 100)

        try:
            with stripe_requests_quiet(options["verbosity"]):
                counts = services.catalogue_sync(progress=progress)
        except (BillingDisabled, StripeUnavailable) as error:
            if bar.percent >= 0:
                self.stdout.write("")
            raise CommandError(f"Stripe sync failed: {error.message}") from error
        except InvalidStripeAPIKey as error:
            if bar.percent >= 0:
                self.stdout.write("")
            raise CommandError(
                f"Stripe sync failed: STRIPE_SECRET_KEY is not a Stripe secret key ({error})."
            ) from error
        except stripe.StripeError as error:  # raised by dj-stripe's own follow-up reads
            if bar.percent >= 0:
                self.stdout.write("")
            raise CommandError(f"Stripe sync failed: {error.user_message or error}") from error
        if bar.percent >= 0:
            bar.finish()
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {counts['products']} product(s) and {counts['prices']} price(s)."
            )
        )
