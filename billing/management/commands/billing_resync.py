"""`manage.py billing_resync --customer cus_… | --all`: re-read subscriptions from Stripe and
re-apply Keel's rules (plan, seats, role), for webhooks that never arrived.

Each customer is refreshed in its own transaction (`billing.services.customer_refresh`); one
customer's failure is reported and counted and the run goes on. The command exits non-zero when
any customer failed. Idempotent: a second run changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.management.commands._progress import ProgressBar
from billing import services
from billing.gateway import billing_enabled
from billing.management.commands._stripe_logs import stripe_requests_quiet
from config.errors import DomainError


def failure_text(error: Exception) -> str:
    if isinstance(error, DomainError):
        return error.message
    return f"{type(error).__name__}: {error}"


class Command(BaseCommand):
    help = (
        "Re-fetch subscriptions from Stripe and re-apply the plan, seat and role rules, for one "
        "customer (--customer, repeatable) or every customer linked to a user or organization "
        "(--all). Failures are reported and counted; the exit status is 1 if any failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--customer",
            action="append",
            metavar="cus_…",
            help="A Stripe customer id (repeat the option for several).",
        )
        which.add_argument(
            "--all", action="store_true", help="Every customer linked to a user or organization."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not billing_enabled():
            raise CommandError(
                "Billing is disabled: set STRIPE_SECRET_KEY (and leave STRIPE_ENABLED on); "
                "see docs/billing.md."
            )
        if options["all"]:
            customer_ids = services.known_customer_ids()
        else:
            customer_ids = list(dict.fromkeys(c.strip() for c in options["customer"] if c.strip()))
        if not customer_ids:
            self.stdout.write("No Stripe customers to re-sync.")
            return
        total = len(customer_ids)
        self.stdout.write(f"Re-syncing {total} customer(s) from Stripe ...")
        bar = ProgressBar(self.stdout, label=f"0/{total}")
        bar(0)
        changes: dict[str, list[str]] = {}
        failures: dict[str, str] = {}
        for index, customer_id in enumerate(customer_ids, start=1):
            try:
                with stripe_requests_quiet(options["verbosity"]):
                    changed = services.customer_refresh(
                        customer_id=customer_id, source="resync:command"
                    )
            except Exception as error:  # reported and counted; the others still run
                failures[customer_id] = failure_text(error)
            else:
                if changed:
                    changes[customer_id] = changed
            bar.label = f"{index}/{total}"
            bar.percent = -1
            bar(index * 100 // total)
        bar.finish()
        for customer_id, changed in changes.items():
            self.stdout.write(f"  {customer_id}: {'; '.join(changed)}")
        if not options["all"]:
            for customer_id in customer_ids:
                if customer_id not in failures and not services.subscriber_for_customer(
                    customer_id
                ):
                    self.stdout.write(
                        f"  {customer_id}: not linked to a Keel user or organization "
                        "(its subscriptions were mirrored; no plan or role to apply)."
                    )
        for customer_id, message in failures.items():
            self.stderr.write(self.style.ERROR(f"  {customer_id} failed: {message}"))
        unchanged = total - len(changes) - len(failures)
        summary = (
            f"Re-synced {total - len(failures)} of {total} customer(s): {len(changes)} changed, "
            f"{unchanged} unchanged, {len(failures)} failed."
        )
        if failures:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
