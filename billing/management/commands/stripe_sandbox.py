"""`manage.py stripe_sandbox`: the Stripe-compatible fake (billing/sandbox) for a person to use.

Development only: it refuses to start when ENVIRONMENT is production or staging.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.sandbox.fake import FakeStripe
from billing.sandbox.server import serve

CATALOGUE = (("Pro", "pro", 1900), ("Enterprise", "enterprise", 9900))


class Command(BaseCommand):
    help = "Run the offline Stripe sandbox (a Stripe-compatible fake API; development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=12111)
        parser.add_argument(
            "--webhook-url",
            default=f"{settings.SITE_URL.rstrip('/')}/api/v1/webhooks/stripe",
            help="Where the sandbox sends its signed events (empty: nowhere).",
        )
        parser.add_argument(
            "--webhook-secret", default="", help="Signing secret (default: the sandbox's own)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("The Stripe sandbox is for development only: not in production.")
        fake = FakeStripe(webhook_url=options["webhook_url"])
        if options["webhook_secret"]:
            fake.webhook_secret = options["webhook_secret"]
        server, url = serve(fake, options["host"], options["port"])
        fake.base_url = url
        for name, plan, cents in CATALOGUE:
            product = fake.dispatch(
                "POST", "/v1/products", {"name": name, "metadata": {"plan": plan}}
            )
            price = fake.dispatch(
                "POST",
                "/v1/prices",
                {
                    "product": product["id"],
                    "unit_amount": str(cents),
                    "currency": "usd",
                    "recurring": {"interval": "month"},
                },
            )
            self.stdout.write(f"  {name}: product {product['id']}, monthly price {price['id']}")
        self.stdout.write(
            self.style.SUCCESS(f"Stripe sandbox on {url}") + f" (STRIPE_API_BASE={url}); events "
            f"to {fake.webhook_url or 'nowhere'}, signed with {fake.webhook_secret}. Ctrl-C stops."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
