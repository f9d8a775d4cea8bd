"""`make loadtest`: Keel served as in production against the bare-Django ceiling, over HTTP.

Keel runs under `manage.py serve --no-worker` (uvicorn, `--workers`), the ceiling
(`config.loadtest.ceiling`) under the same uvicorn flags and worker count. wrk, in its own
process on loopback, drives the two in alternation: for each row, `--rounds` rounds of
(ceiling, Keel), `--seconds` each; the table holds the medians. Needs PostgreSQL
(DATABASE_URL) and Redis (REDIS_URL): `make loadtest` starts them where absent.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from config import routes
from config.loadtest import report, webhooks, wrk
from config.loadtest.fixtures import (
    ORG_SLUG,
    access_token,
    cast_ensure,
    organization_customer_set,
)

BASE_DIR = Path(settings.BASE_DIR)
APP_NAME = "keel-loadtest"  # the measured server's connections in pg_stat_activity
# serve's flags that matter for HTTP (the ceiling has no lifespan handler: Django refuses one).
UVICORN_FLAGS = [
    "--no-proxy-headers",
    "--no-access-log",
    "--lifespan",
    "off",
    "--log-level",
    "warning",
]


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Row:
    title: str
    path: str
    ceiling_path: str = "/me"
    headers: dict[str, str] = field(default_factory=dict)
    clients: int = 16
    server: str = "keel"
    count_connections: bool = False


@dataclass
class Measured:
    row: Row
    keel: list[wrk.Run]
    ceiling: list[wrk.Run]
    max_connections: int = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _median(runs: list[wrk.Run], attribute: str) -> float:
    return statistics.median(getattr(run, attribute) for run in runs)


class Command(BaseCommand):
    help = "Load-test Keel over real HTTP against a bare-Django ceiling (docs/performance.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1"))
        )
        parser.add_argument("--seconds", type=float, default=8.0, help="Length of each run.")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--fanout-sockets", type=int, default=500)
        parser.add_argument("--webhook-events", type=int, default=400, help="Per round.")
        parser.add_argument("--webhook-clients", type=int, default=8)
        parser.add_argument("--only", default="", help="Run the rows whose title contains this.")
        parser.add_argument("--output", default="", help="Write the table into this Markdown file.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql" or not settings.REDIS_URL:
            raise CommandError(
                "make loadtest needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)."
            )
        try:
            wrk.wrk_path()
        except wrk.WrkMissing as exc:
            raise CommandError(str(exc)) from None
        self.options = options
        logs = BASE_DIR / "var" / "loadtest"
        logs.mkdir(parents=True, exist_ok=True)

        self.stdout.write("Preparing the database (migrate, 1,000 members)…")
        call_command("migrate", verbosity=0, interactive=False)
        cast = cast_ensure()
        bearer = access_token(cast.owner.pk)
        auth = {"Authorization": f"Bearer {bearer}"}
        cookie = {"Cookie": f"auth_token={bearer}"}

        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "RATE_LIMIT_ENABLED": "false",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        limited_env = {
            **env,
            "RATE_LIMIT_ENABLED": "true",  # counted and checked, never reached
            "RATE_LIMIT_IP_PER_MINUTE": "1000000000",
            "RATE_LIMIT_USER_PER_MINUTE": "1000000000",
        }
        workers = str(options["workers"])
        serve = [
            sys.executable,
            "manage.py",
            "serve",
            "--no-worker",
            "--host",
            "127.0.0.1",
            "--workers",
            workers,
        ]
        servers = {
            "keel": Server(
                "keel", serve, {**env, "DB_APPLICATION_NAME": APP_NAME}, logs / "keel.log"
            ),
            "keel-limited": Server("keel-limited", serve, limited_env, logs / "keel-limited.log"),
            "ceiling": Server(
                "ceiling",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.loadtest.ceiling:application",
                    "--host",
                    "127.0.0.1",
                    "--workers",
                    workers,
                    *UVICORN_FLAGS,
                ],
                env,
                logs / "ceiling.log",
            ),
        }
        members = f"/api/v1/organizations/{ORG_SLUG}/members"
        rows = [
            Row("GET /health/live", "/health/live"),
            Row("GET /auth/me (Bearer)", "/api/v1/auth/me", headers=auth),
            Row("GET /auth/me (cookie)", "/api/v1/auth/me", headers=cookie),
            Row("GET /organizations (one org)", "/api/v1/organizations", headers=auth),
            Row("GET /organizations/{slug}/members (1,000)", members, "/members", headers=auth),
            Row(
                "GET /auth/me (Bearer), rate limits on",
                "/api/v1/auth/me",
                headers=auth,
                server="keel-limited",
            ),
            Row("GET /auth/me (Bearer), 32 clients", "/api/v1/auth/me", headers=auth, clients=32),
            Row(
                "GET /organizations, 32 clients", "/api/v1/organizations", headers=auth, clients=32
            ),
            Row(
                "GET /organizations, 64 clients",
                "/api/v1/organizations",
                headers=auth,
                clients=64,
                count_connections=True,
            ),
        ]
        rows = [row for row in rows if options["only"].lower() in row.title.lower()]
        results: list[Measured] = []
        fanout: dict[str, float] | None = None
        stripe_webhooks: dict[str, float] | None = None
        with self._running(list(servers.values())):
            for row in rows:
                results.append(self._measure(row, servers[row.server], servers["ceiling"]))
            if options["fanout_sockets"] and (not options["only"] or "fan" in options["only"]):
                fanout = self._fanout(cast, servers["keel"], env, logs)
        if options["webhook_events"] and (not options["only"] or "webhook" in options["only"]):
            stripe_webhooks = self._webhooks(serve, env, logs)

        text = report.loadtest_markdown(
            results=[
                report.LoadRow(
                    title=m.row.title,
                    clients=m.row.clients,
                    rps=_median(m.keel, "rps"),
                    p50_ms=_median(m.keel, "p50_ms"),
                    p99_ms=_median(m.keel, "p99_ms"),
                    non_2xx=sum(r.non_2xx + r.socket_errors for r in m.keel),
                    requests=sum(r.requests for r in m.keel),
                    ceiling_rps=_median(m.ceiling, "rps"),
                    max_connections=m.max_connections if m.row.count_connections else None,
                )
                for m in results
            ],
            fanout=fanout,
            webhooks=stripe_webhooks,
            machine=self._machine(),
            options=options,
            pool_size=self._pool_size(),
        )
        self.stdout.write("")
        self.stdout.write(text)
        if options["output"]:
            report.section_write(Path(options["output"]), "loadtest", text)
            self.stdout.write(
                self.style.SUCCESS(f"Wrote the loadtest section of {options['output']}")
            )

    # --- servers ---------------------------------------------------------------------------
    @contextmanager
    def _running(self, servers: list[Server]) -> Iterator[None]:
        try:
            for server in servers:
                self._start(server)
            yield
        finally:
            for server in servers:
                self._stop(server)

    def _start(self, server: Server) -> None:
        server.port = free_port()
        command = [*server.command, "--port", str(server.port)]
        with server.log.open("wb") as out:
            server.proc = subprocess.Popen(
                command, cwd=BASE_DIR, env=server.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        probe = "/health/live" if server.name != "ceiling" else "/health"
        deadline = time.monotonic() + 60
        while True:
            if server.proc.poll() is not None:
                raise CommandError(f"{server.name} exited: {server.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(server.base + probe, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{server.name} not up in 60 s: {server.log.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        self.stdout.write(f"  {server.name} on {server.base} (log {server.log})")

    def _stop(self, server: Server) -> None:
        if server.proc is None or server.proc.poll() is not None:
            return
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()

    # --- measuring -------------------------------------------------------------------------
    def _measure(self, row: Row, keel: Server, ceiling: Server) -> Measured:
        measured = Measured(row, [], [])
        seconds = self.options["seconds"]
        self.stdout.write(f"{row.title} ({row.clients} clients)")
        # Warm both (imports, caches, connections) before the first measured round.
        wrk.run(ceiling.base + row.ceiling_path, clients=row.clients, seconds=1, headers={})
        wrk.run(keel.base + row.path, clients=row.clients, seconds=1, headers=row.headers)
        for n in range(self.options["rounds"]):
            c = wrk.run(
                ceiling.base + row.ceiling_path, clients=row.clients, seconds=seconds, headers={}
            )
            with self._connection_counter(
                enabled=row.count_connections and row.server == "keel"
            ) as peak:
                k = wrk.run(
                    keel.base + row.path, clients=row.clients, seconds=seconds, headers=row.headers
                )
            measured.ceiling.append(c)
            measured.keel.append(k)
            measured.max_connections = max(measured.max_connections, peak[0])
            self.stdout.write(
                f"  round {n + 1}: Keel {k.rps:,.0f} req/s (p99 {k.p99_ms:.1f} ms, "
                f"non-2xx {k.non_2xx + k.socket_errors}) · ceiling {c.rps:,.0f} req/s "
                f"→ {k.rps / c.rps:.0%}"
                + (f" · PostgreSQL connections ≤ {peak[0]}" if row.count_connections else "")
            )
        return measured

    @contextmanager
    def _connection_counter(self, *, enabled: bool) -> Iterator[list[int]]:
        """The most connections the measured Keel server held while the block runs (sampled
        every 0.2 s from pg_stat_activity, where it names them APP_NAME)."""
        peak = [0]
        if not enabled:
            yield peak
            return
        stop = threading.Event()

        def sample() -> None:
            from django.db import connections

            db = connections.create_connection("default")
            try:
                while not stop.is_set():
                    with db.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND application_name = %s",
                            [APP_NAME],
                        )
                        peak[0] = max(peak[0], cursor.fetchone()[0])
                    stop.wait(0.2)
            finally:
                db.close()

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield peak
        finally:
            stop.set()
            thread.join()

    def _fanout(self, cast: Any, keel: Server, env: dict[str, str], logs: Path) -> dict[str, float]:
        """One org event to N members' sockets spread over two web processes sharing Redis:
        seconds from the request that causes it until the last socket has it."""
        sockets = min(self.options["fanout_sockets"], len(cast.member_ids))
        self.stdout.write(f"WebSocket fan-out: {sockets} members on two web processes")
        second = Server("keel-b", keel.command, env, logs / "keel-b.log")
        self._start(second)
        try:
            tokens = [access_token(pk) for pk in cast.member_ids[:sockets]]
            job = {
                "urls": [f"ws://127.0.0.1:{keel.port}/ws", f"ws://127.0.0.1:{second.port}/ws"],
                "tokens": tokens,
                "event": "org_update",
                "events": self.options["rounds"],
                "timeout": 60,
            }
            client = subprocess.Popen(
                [sys.executable, "-m", "config.loadtest.fanout"], cwd=BASE_DIR, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert client.stdin and client.stdout
            client.stdin.write(json.dumps(job))
            client.stdin.close()
            if client.stdout.readline().strip() != "READY":
                raise CommandError("the fan-out client could not open its sockets")
            owner = {"Authorization": f"Bearer {access_token(cast.owner.pk)}"}
            sent = []
            for n in range(self.options["rounds"]):
                time.sleep(1.0)
                sent.append(time.time())
                self._put_json(
                    f"{keel.base}/api/v1/organizations/{ORG_SLUG}",
                    {"name": f"Load Test {n} {time.time():.0f}"},
                    owner,
                )
            result = json.loads(client.stdout.read())
            client.wait(timeout=30)
        finally:
            self._stop(second)
        lasts = [
            max(times) - t0 for times, t0 in zip(result["received"], sent, strict=True) if times
        ]
        received = min(len(times) for times in result["received"])
        for n, (times, t0) in enumerate(zip(result["received"], sent, strict=True)):
            if times:
                self.stdout.write(
                    f"  event {n + 1}: {len(times)} sockets, "
                    f"first after {(min(times) - t0) * 1000:.0f} ms, "
                    f"last after {(max(times) - t0) * 1000:.0f} ms"
                )
        if received < sockets:
            self.stdout.write(
                self.style.WARNING(
                    f"  only {received} of {sockets} sockets got every event: {result}"
                )
            )
        return {
            "sockets": sockets,
            "received": received,
            "last_ms": statistics.median(lasts) * 1000 if lasts else float("nan"),
        }

    def _webhooks(self, serve: list[str], env: dict[str, str], logs: Path) -> dict[str, float]:
        """Signed Stripe deliveries to a Keel whose Stripe is the fake (billing/sandbox)."""
        events, clients = self.options["webhook_events"], self.options["webhook_clients"]
        self.stdout.write(f"Stripe webhooks: {events} deliveries per round, {clients} clients")
        fake = subprocess.Popen(
            [sys.executable, "-m", "billing.sandbox"], cwd=BASE_DIR, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            assert fake.stdout is not None
            ready = fake.stdout.readline().split()
            if not ready or ready[0] != "READY":
                raise CommandError("the Stripe fake did not start")
            fake_url, secret = ready[1], ready[2]
            subscription = webhooks.subscription_prepare(fake_url)
            organization_customer_set(str(subscription["customer"]))
            billing_env = {
                **env,
                "DB_APPLICATION_NAME": APP_NAME,
                "STRIPE_SECRET_KEY": webhooks.SECRET_KEY,
                "STRIPE_API_BASE": fake_url,
                "STRIPE_WEBHOOK_SECRET": secret,
                "STRIPE_MAX_NETWORK_RETRIES": "0",
            }
            keel = Server("keel-billing", serve, billing_env, logs / "keel-billing.log")
            with self._running([keel]):
                url = keel.base + routes.STRIPE_WEBHOOK_PATH
                tag = f"{time.time():.0f}"
                webhooks.deliver(url, subscription, secret, events=20, clients=clients, tag=tag)
                runs = []
                for n in range(self.options["rounds"]):
                    run = webhooks.deliver(
                        url, subscription, secret, events=events, clients=clients,
                        tag=f"{tag}r{n}",
                    )  # fmt: skip
                    runs.append(run)
                    self.stdout.write(
                        f"  round {n + 1}: {run['events_per_s']:,.0f} events/s, "
                        f"p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms, "
                        f"non-200 {run['non_200']:.0f}"
                    )
        finally:
            os.killpg(fake.pid, signal.SIGTERM)
            fake.wait(timeout=30)
        return {
            "events": events,
            "clients": clients,
            "events_per_s": statistics.median(r["events_per_s"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non_200": sum(r["non_200"] for r in runs),
        }

    @staticmethod
    def _put_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="PUT",
            headers={**headers, "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status != 200:
                raise CommandError(f"PUT {url} answered {response.status}")

    # --- the report ------------------------------------------------------------------------
    def _pool_size(self) -> str:
        pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
        if isinstance(pool, dict):
            return f"{pool.get('min_size', 4)}–{pool.get('max_size')} per web process"
        return "no pool" if not pool else "psycopg default"

    def _machine(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg = cursor.fetchone()[0]
        return (
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()}, "
            f"{os.cpu_count()} CPUs · Python {platform.python_version()}, "
            f"Django {django.get_version()} · PostgreSQL {pg} · {wrk.version()}"
        )
