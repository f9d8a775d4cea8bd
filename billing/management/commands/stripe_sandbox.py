"""`manage.py stripe_sandbox`: the Stripe-compatible fake (billing/sandbox) for a person to use.

It keeps its objects (products, prices, customers, subscriptions, invoices, events) in a state
file (`var/stripe_sandbox.json` by default), like a Stripe account keeps them: after a restart
the customers and subscriptions Keel stored are still there, and the catalogue is seeded only
once (a Pro and an Enterprise monthly price, with `plan` metadata and marketing features).
`make clean` (or deleting the file together with the database) starts afresh.

Development only: it refuses to start when ENVIRONMENT is production or staging.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.sandbox.fake import FakeStripe
from billing.sandbox.server import serve

# What the sandbox sells: name, the `plan` metadata (how Keel maps the product to a plan when
# no price id is listed in the settings), monthly price in cents, and the pricing page's
# features (Stripe's `marketing_features`).
CATALOGUE: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    (
        "Pro",
        "pro",
        1900,
        ("Up to 25 members", "10x the usage limits", "Priority email support"),
    ),
    (
        "Enterprise",
        "enterprise",
        9900,
        ("Unlimited members", "100x the usage limits", "Dedicated support"),
    ),
)
SAVE_EVERY_SECONDS = 1.0
DELIVERY_ATTEMPTS = 4  # then the event is left undelivered (`manage.py billing_resync` mends)


def state_dump(fake: FakeStripe) -> str:
    with fake._lock:
        return json.dumps({"objects": fake.objects, "events": fake.events}, sort_keys=True)


def state_load(fake: FakeStripe, path: Path) -> bool:
    """Restore the objects and events of an earlier run; False when there is no usable file."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict) or not isinstance(state.get("objects"), dict):
        return False
    fake.objects.update(state["objects"])
    fake.events.extend(e for e in state.get("events") or [] if isinstance(e, dict))
    return True


def catalogue_seed(fake: FakeStripe) -> list[str]:
    lines = []
    for name, plan, cents, features in CATALOGUE:
        product = fake.dispatch(
            "POST",
            "/v1/products",
            {
                "name": name,
                "metadata": {"plan": plan},
                "marketing_features": [{"name": feature} for feature in features],
            },
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
        lines.append(f"  {name}: product {product['id']}, monthly price {price['id']}")
    return lines


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
        parser.add_argument(
            "--state",
            default=str(settings.VAR_DIR / "stripe_sandbox.json"),
            help="Where the sandbox keeps its objects between runs (empty: in memory only).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_PRODUCTION:
            raise CommandError("The Stripe sandbox is for development only: not in production.")
        fake = FakeStripe(webhook_url=options["webhook_url"], delivery_attempts=DELIVERY_ATTEMPTS)
        if options["webhook_secret"]:
            fake.webhook_secret = options["webhook_secret"]
        state = Path(options["state"]) if options["state"] else None
        restored = state is not None and state_load(fake, state)
        server, url = serve(fake, options["host"], options["port"])
        fake.base_url = url
        if not fake.of_kind("product"):
            for line in catalogue_seed(fake):
                self.stdout.write(line)
        elif state is not None:
            self.stdout.write(f"  Restored {len(fake.objects)} object(s) from {state}")
        self.stdout.write(
            self.style.SUCCESS(f"Stripe sandbox on {url}") + f" (STRIPE_API_BASE={url}); events "
            f"to {fake.webhook_url or 'nowhere'}, signed with {fake.webhook_secret}. Ctrl-C stops."
        )
        stop = threading.Event()
        # SIGTERM (manage.py serve stopping it) ends the loop like Ctrl-C: the state is saved.
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        saved = "" if not restored else state_dump(fake)
        try:
            while not stop.wait(SAVE_EVERY_SECONDS):
                saved = self._save(fake, state, saved)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            self._save(fake, state, saved)
            server.shutdown()

    @staticmethod
    def _save(fake: FakeStripe, state: Path | None, saved: str) -> str:
        """Write the state file when the objects changed since the last write."""
        if state is None:
            return saved
        current = state_dump(fake)
        if current != saved:
            state.parent.mkdir(parents=True, exist_ok=True)
            partial = state.with_suffix(".tmp")
            partial.write_text(current)
            partial.replace(state)
        return current
