"""Markdown for `make loadtest`, and the marked sections of docs/performance.md that
`make bench` and `make loadtest` each rewrite (the prose around them is kept)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGETS = {  # issue 12: share of the ceiling's requests/s
    "GET /health/live": 0.60,
    "GET /auth/me (Bearer)": 0.50,
    "GET /auth/me (cookie)": 0.50,
    "GET /organizations (one org)": 0.35,
}
P99_TARGET_MS = 100.0  # at 32 clients, for /auth/me and the org list
FANOUT_TARGET_MS = 500.0


@dataclass(frozen=True)
class LoadRow:
    title: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    ceiling_rps: float
    max_connections: int | None = None


def _target(row: LoadRow) -> str:
    if row.title in TARGETS:
        goal = TARGETS[row.title]
        met = row.rps / row.ceiling_rps >= goal
        return f"≥ {goal:.0%} {'✅' if met else '❌'}"
    if row.clients == 32:
        return f"p99 ≤ {P99_TARGET_MS:.0f} ms {'✅' if row.p99_ms <= P99_TARGET_MS else '❌'}"
    if row.max_connections is not None:
        return f"0 non-2xx {'✅' if row.non_2xx == 0 else '❌'}"
    return ""


def loadtest_markdown(
    *,
    results: list[LoadRow],
    fanout: dict[str, float] | None,
    machine: str,
    webhooks: dict[str, float] | None = None,
    options: dict[str, Any],
    pool_size: str,
) -> str:
    lines = [
        f"- Measured: {machine}",
        f"- `make loadtest`: {options['workers']} uvicorn worker(s) each for Keel and the ceiling, "
        f"{options['rounds']} rounds of {options['seconds']:.0f} s per row alternating the two, "
        "medians; wrk (one thread) on loopback; rate limits off except where a row says so.",
        f"- Database pool: {pool_size}.",
        "",
        "| Endpoint | clients | Keel req/s | p50 ms | p99 ms | non-2xx | ceiling req/s | share "
        "| target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results:
        non_2xx = f"{row.non_2xx} of {row.requests:,}"
        if row.max_connections is not None:
            non_2xx += f" (PostgreSQL connections ≤ {row.max_connections})"
        lines.append(
            f"| {row.title} | {row.clients} | {row.rps:,.0f} | {row.p50_ms:.1f} | {row.p99_ms:.1f} "
            f"| {non_2xx} | {row.ceiling_rps:,.0f} | {row.rps / row.ceiling_rps:.0%} "
            f"| {_target(row)} |"
        )
    if fanout is not None:
        met = fanout["last_ms"] <= FANOUT_TARGET_MS and fanout["received"] == fanout["sockets"]
        lines += [
            "",
            f"WebSocket fan-out: one org event to {fanout['sockets']:.0f} members' sockets on two "
            f"web processes sharing Redis reached the last socket **{fanout['last_ms']:.0f} ms** "
            f"after the request that caused it (median of {options['rounds']} events; "
            f"{fanout['received']:.0f} of {fanout['sockets']:.0f} sockets got every event; "
            f"target ≤ {FANOUT_TARGET_MS:.0f} ms {'✅' if met else '❌'}).",
        ]
    if webhooks is not None:
        lines += [
            "",
            f"Stripe webhooks: {webhooks['events']:.0f} signed `customer.subscription.updated` "
            f"deliveries per round from {webhooks['clients']:.0f} clients, each verified, recorded "
            "once in dj-stripe's Event table and re-reading the subscription from the Stripe fake "
            f"(`python -m billing.sandbox`): **{webhooks['events_per_s']:,.0f} events/s**, "
            f"p50 {webhooks['p50_ms']:.1f} ms, p99 {webhooks['p99_ms']:.1f} ms, "
            f"{webhooks['non_200']:.0f} non-200 (medians of {options['rounds']} rounds).",
        ]
    return "\n".join(lines) + "\n"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start (written by make {name}) -->", f"<!-- {name}:end -->"


def section_write(path: Path, name: str, text: str) -> None:
    """Replace the `name` section of a Markdown file (appended when absent)."""
    start, end = _markers(name)
    block = f"{start}\n{text.rstrip()}\n{end}"
    current = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip() + ("\n\n" if current else "") + block + "\n"
    path.write_text(updated)
