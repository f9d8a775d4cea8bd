"""Benchmarks of the request path; writes a Markdown report (docs/performance.md).

Measures in-process (Django test client through the full middleware stack, no network) so the
numbers reflect Keel's own overhead rather than the server or the loopback. Everything the
benchmark writes (demo blocks, audit entries) is rolled back at the end.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import include, path

from config.loadtest.report import section_write
from config.views import LiveView

BENCH_PASSWORD = "Bench-Password-42"  # noqa: S105 (a throwaway user, rolled back)


def bare_json(request: HttpRequest) -> JsonResponse:
    """The yardstick for `GET /auth/me`: a plain Django view returning a small JSON object."""
    return JsonResponse({"id": 1, "email": "bench@example.com", "name": "Bench"})


# While the auth benchmarks run, ROOT_URLCONF points here: Keel's routes plus the bare view.
# The bare view sits under /api/v1 so that both pay the same API middleware (ETag, tiers).
urlpatterns = [path("api/v1/bench/bare-json", bare_json), path("", include("config.urls"))]

GUARDS = ("security.middleware.IPBlocklistMiddleware", "security.middleware.IPRateLimitMiddleware",
          "security.middleware.RouteRateLimitMiddleware")  # fmt: skip


@dataclass
class Row:
    name: str
    n: int
    rps: float
    mean: float
    p50: float
    p95: float


def measure(name: str, fn: Callable[[], Any], iterations: int, warmup: int = 50) -> Row:
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    samples.sort()
    p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
    return Row(
        name,
        iterations,
        iterations / total,
        statistics.mean(samples),
        statistics.median(samples),
        p95,
    )


@contextmanager
def high_limits() -> Iterator[None]:
    """Rate limits are counted as usual but set so high that the benchmark is never refused."""
    high = 1_000_000_000
    with override_settings(
        RATE_LIMIT_IP_PER_MINUTE=high,
        RATE_LIMIT_USER_PER_MINUTE=high,
        RATE_LIMIT_AUTH_PER_MINUTE=high,
    ):
        yield


def seed_blocklist(exact: int, ranges: int) -> None:
    """A realistic blocklist that does not match the benchmark's own address (127.0.0.1)."""
    from security import blocklist
    from security.models import IPBlock

    base = int(ipaddress.ip_address("198.18.0.0"))
    IPBlock.objects.bulk_create(
        [
            IPBlock(ip_address=str(ipaddress.ip_address(base + i)), reason="bench")
            for i in range(exact)
        ]
        + [IPBlock(ip_range=f"10.{i // 256}.{i % 256}.0/24", reason="bench") for i in range(ranges)]
        + [IPBlock(ip_range=f"2001:db8:{i:x}::/48", reason="bench") for i in range(ranges)]
    )
    blocklist.reset_local()


class Command(BaseCommand):
    help = "Benchmark Keel's request path and write the results as Markdown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--iterations", type=int, default=2000)
        parser.add_argument("--output", default="", help="Write the report here (else print it).")

    def handle(self, *args: Any, **options: Any) -> None:
        n = options["iterations"]
        settings.DEBUG = False  # as in production: no query log, no debug pages
        logging.getLogger("keel.request").setLevel(
            logging.WARNING
        )  # measure Keel, not the terminal
        with high_limits(), transaction.atomic():
            seed_blocklist(exact=200, ranges=50)
            rows = self._request_path(n)
            guard_rows = self._guards(n)
            audit_rows = self._audit(n)
            auth_rows = self._auth(n)
            transaction.set_rollback(True)
        report = self._render(rows, guard_rows, audit_rows, auth_rows)
        if options["output"]:
            section_write(Path(options["output"]), "bench", report)
            self.stdout.write(self.style.SUCCESS(f"Wrote the bench section of {options['output']}"))
        else:
            self.stdout.write(report)

    def _run(self, benches: list[tuple[str, Callable[[], Any], int]]) -> list[Row]:
        rows = []
        for name, fn, iterations in benches:
            self.stdout.write(f"  {name} x{iterations} ...", ending="")
            self.stdout.flush()
            row = measure(name, fn, iterations)
            rows.append(row)
            self.stdout.write(f" {row.rps:,.0f} req/s, p50 {row.p50:.3f} ms, p95 {row.p95:.3f} ms")
        return rows

    def _request_path(self, n: int) -> list[Row]:
        client = Client()
        factory = RequestFactory()
        live_view = LiveView.as_view()
        return self._run(
            [
                (
                    "LiveView called directly (no middleware)",
                    lambda: live_view(factory.get("/health/live")),
                    n,
                ),
                ("GET /health/live (full stack)", lambda: client.get("/health/live"), n),
                ("GET /api/v1/csrf-token", lambda: client.get("/api/v1/csrf-token"), n),
                (
                    "GET /api/v1/does-not-exist (404 envelope)",
                    lambda: client.get("/api/v1/does-not-exist"),
                    n,
                ),
                ("GET /health/ready (database + cache)", lambda: client.get("/health/ready"), n),
                ("GET /health (all components)", lambda: client.get("/health"), max(200, n // 10)),
            ]
        )

    def _guards(self, n: int) -> list[Row]:
        """The same request with and without the blocklist + rate-limit middleware, alternating
        request by request so that both see the same machine state (paired samples)."""
        path = "/api/v1/csrf-token"
        with_guards = Client()
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m not in GUARDS]):
            without_guards = Client()
            without_guards.get(path)  # build its middleware chain now
        return self._paired(
            f"GET {path}",
            ("without blocklist + rate limits", lambda: without_guards.get(path)),
            ("with blocklist + rate limits", lambda: with_guards.get(path)),
            n * 5,
        )

    def _paired(
        self,
        title: str,
        first: tuple[str, Callable[[], Any]],
        second: tuple[str, Callable[[], Any]],
        iterations: int,
    ) -> list[Row]:
        """Two requests measured in alternation (paired samples, GC off), so both see the same
        machine state; a ~50 µs difference would otherwise drown in noise."""
        samples: list[list[float]] = [[], []]
        gc.collect()
        gc.disable()
        self.stdout.write(f"  {title}: {first[0]} / {second[0]} x{iterations} ...", ending="")
        try:
            for i in range(iterations + 100):
                order = (0, 1) if i % 2 == 0 else (1, 0)  # alternate which goes first
                for side in order:
                    fn = (first, second)[side][1]
                    t0 = time.perf_counter()
                    fn()
                    if i >= 100:  # warm-up
                        samples[side].append((time.perf_counter() - t0) * 1000)
        finally:
            gc.enable()
        rows = []
        for (label, _), data in zip((first, second), samples, strict=True):
            data.sort()
            mean = statistics.mean(data)
            rows.append(
                Row(
                    f"{title} {label}",
                    len(data),
                    1000 / mean,
                    mean,
                    statistics.median(data),
                    data[int(len(data) * 0.95) - 1],
                )
            )
        self.stdout.write(f" p50 {rows[0].p50:.3f} ms / {rows[1].p50:.3f} ms")
        return rows

    def _audit(self, n: int) -> list[Row]:
        from security.services import audit_record

        return self._run(
            [
                (
                    "audit_record() (one INSERT)",
                    lambda: audit_record(
                        actor=None, action="bench", target_type="bench", changes={"a": 1}
                    ),
                    n,
                )
            ]
        )

    def _auth(self, n: int) -> list[Row]:
        """Password sign-in (argon2 included) and an authenticated `GET /auth/me`, beside a
        bare Django JSON view through the same middleware stack."""
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user("bench@example.com", BENCH_PASSWORD, name="Bench")
        client = Client()
        credentials = {"email": "bench@example.com", "password": BENCH_PASSWORD}
        token = client.post(
            "/api/v1/auth/token", credentials, content_type="application/json"
        ).json()["access_token"]
        bearer = f"Bearer {token}"
        BARE, ME = "/api/v1/bench/bare-json", "/api/v1/auth/me"
        with override_settings(ROOT_URLCONF=__name__):
            rows = self._paired(
                "GET",
                (
                    f"{BARE} (bare Django JSON view)",
                    lambda: client.get(BARE, HTTP_AUTHORIZATION=bearer),
                ),
                (f"{ME} (Bearer JWT)", lambda: client.get(ME, HTTP_AUTHORIZATION=bearer)),
                n * 2,
            )
        with override_settings(RATE_LIMIT_ENABLED=False):  # the login tier allows 10/min
            rows += self._run(
                [
                    (
                        "POST /api/v1/auth/token (argon2 + session + history + audit)",
                        lambda: client.post(
                            "/api/v1/auth/token", credentials, content_type="application/json"
                        ),
                        max(30, n // 40),
                    )
                ]
            )
        return rows

    def _render(
        self, rows: list[Row], guard_rows: list[Row], audit_rows: list[Row], auth_rows: list[Row]
    ) -> str:
        cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        table = [
            "| Measurement | n | ops/s | mean ms | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---:|---:|",
        ]

        def lines_for(items: list[Row]) -> list[str]:
            return [
                f"| {r.name} | {r.n} | {r.rps:,.0f} | {r.mean:.3f} | {r.p50:.3f} | {r.p95:.3f} |"
                for r in items
            ]

        pipeline = rows[1].p50 - rows[0].p50
        without, with_ = guard_rows[0], guard_rows[1]
        guard_cost = (with_.p50 - without.p50) / without.p50 * 100
        throughput_cost = (without.rps - with_.rps) / without.rps * 100
        me_ratio = auth_rows[1].rps / auth_rows[0].rps * 100
        me_ratio_p50 = auth_rows[0].p50 / auth_rows[1].p50 * 100
        return "\n".join(
            [
                "## In process (`make bench`)",
                "",
                "Numbers from `make bench` (`manage.py bench`): in-process requests through Keel's",
                "full middleware stack with Django's test client (no network, one thread), so they",
                "show Keel's own overhead. Re-run after changes to the request path and commit the",
                "result. The benchmark's writes are rolled back; the per-request log line is not",
                "written (its cost depends on where logs go).",
                "",
                f"- Measured: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
                f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}, Django {django.get_version()}",
                f"- Database: {connection.vendor}; cache: {cache_backend}; DEBUG=False",
                "",
                "### Request path",
                "",
                *table,
                *lines_for(rows),
                "",
                f"Middleware pipeline overhead (p50 of the full stack minus the view alone): "
                f"**{pipeline:.3f} ms** per request.",
                "",
                "### IP blocklist + rate limits",
                "",
                "The same request with and without `IPBlocklistMiddleware`,",
                "`IPRateLimitMiddleware` and `RouteRateLimitMiddleware` (a blocklist of 200",
                "addresses and 100 IPv4/IPv6 ranges; the ip and user tiers counting every",
                "request), measured request by request in alternation:",
                "",
                *table,
                *lines_for(guard_rows),
                "",
                f"Cost of the guards: **{guard_cost:+.1f} %** p50 latency, "
                f"**{throughput_cost:+.1f} %** throughput (target: at most 10 %).",
                "",
                "### Audit log",
                "",
                *table,
                *lines_for(audit_rows),
                "",
                "An audit entry is one INSERT in the service's transaction; the cost above is",
                "what a state-changing request pays for it.",
                "",
                "### Authentication",
                "",
                *table,
                *lines_for(auth_rows),
                "",
                f"Authenticated `GET /api/v1/auth/me` runs at **{me_ratio:.0f} %** of the bare",
                f"Django JSON view's requests/s (**{me_ratio_p50:.0f} %** by median latency),",
                "both under `/api/v1` through the same middleware, measured in alternation",
                "(goal: at least 50 %).",
                "It verifies the JWT (once: the rate limiter's decode is reused), checks the",
                "process's copy of the token blacklist, loads the user through its cache and",
                "renders it without a query (2FA and OAuth flags live on the user row). Sign-in",
                "is dominated by argon2 password hashing, by design; the login tier is switched",
                "off for that row only.",
                "",
            ]
        )
