"""Benchmarks of the request path; writes a Markdown report (docs/performance.md).

Measures in-process (Django test client through the full middleware stack, no network) so
numbers reflect Keel's own overhead rather than the server or the loopback.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client, RequestFactory

from config.views import LiveView

Row = tuple[str, int, float, float, float, float]


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
    p95 = samples[int(len(samples) * 0.95) - 1]
    return name, iterations, iterations / total, statistics.mean(samples), statistics.median(samples), p95


class Command(BaseCommand):
    help = "Benchmark Keel's request path and write the results as Markdown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--iterations", type=int, default=2000)
        parser.add_argument("--output", default="", help="Write the report here (else print it).")

    def handle(self, *args: Any, **options: Any) -> None:  # noqa: ANN401
        n = options["iterations"]
        settings.DEBUG = False  # as in production: no query log, no debug pages
        client = Client()
        factory = RequestFactory()
        live_view = LiveView.as_view()
        benches: list[tuple[str, Callable[[], Any], int]] = [
            ("LiveView called directly (no middleware)", lambda: live_view(factory.get("/health/live")), n),
            ("GET /health/live (full stack)", lambda: client.get("/health/live"), n),
            ("GET /api/v1/csrf-token", lambda: client.get("/api/v1/csrf-token"), n),
            ("GET /api/v1/does-not-exist (404 envelope)", lambda: client.get("/api/v1/does-not-exist"), n),
            ("GET /health/ready (database + cache)", lambda: client.get("/health/ready"), n),
            ("GET /health (all components)", lambda: client.get("/health"), max(200, n // 10)),
        ]
        rows = []
        for name, fn, iterations in benches:
            self.stdout.write(f"  {name} x{iterations} ...", ending="")
            self.stdout.flush()
            row = measure(name, fn, iterations)
            rows.append(row)
            self.stdout.write(f" {row[2]:,.0f} req/s, p50 {row[4]:.2f} ms, p95 {row[5]:.2f} ms")
        overhead = rows[1][4] - rows[0][4]
        report = self._render(rows, overhead)
        if options["output"]:
            Path(options["output"]).write_text(report)
            self.stdout.write(self.style.SUCCESS(f"Wrote {options['output']}"))
        else:
            self.stdout.write(report)

    def _render(self, rows: list[Row], overhead_ms: float) -> str:
        db = connection.vendor
        cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        lines = [
            "# Performance",
            "",
            "Numbers from `make bench` (`manage.py bench`): in-process requests through Keel's full",
            "middleware stack with Django's test client (no network, one thread), so they show",
            "Keel's own overhead. Re-run after changes to the request path and commit the result.",
            "",
            f"- Measured: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
            f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
            f" Django {django.get_version()}",
            f"- Database: {db}; cache: {cache_backend}; DEBUG={settings.DEBUG}",
            "",
            "| Request | n | req/s | mean ms | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, n, rps, mean, p50, p95 in rows:
            lines.append(f"| {name} | {n} | {rps:,.0f} | {mean:.3f} | {p50:.3f} | {p95:.3f} |")
        lines += [
            "",
            f"Middleware pipeline overhead (p50 full stack − p50 view alone): **{overhead_ms:.3f} ms** per request.",
            "",
        ]
        return "\n".join(lines)
