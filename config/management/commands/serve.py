"""Run the ASGI server (HTTP + WebSockets) and the django-q2 worker together.

Ctrl-C (SIGINT) or SIGTERM stops both; if either dies, the other is stopped too.

`--billing-sandbox` (`make run BILLING=sandbox`) adds a third supervised process, the offline
Stripe sandbox (`manage.py stripe_sandbox`), points the web server and the worker at it with
throwaway test keys and the sandbox's webhook secret, and pulls its catalogue
(`manage.py billing_sync`) before serving, so that pricing → checkout → Pro works with no Stripe
account. Development only: refused in production.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config import routes

# `--billing-sandbox`: throwaway test-mode credentials that only the sandbox accepts (dj-stripe
# wants Stripe's key shape: `sk_test_` and at least 24 letters or digits).
SANDBOX_SECRET_KEY = "sk_test_KeelSandbox000000000000000000"  # noqa: S105 (not a secret)
SANDBOX_PUBLISHABLE_KEY = "pk_test_KeelSandbox000000000000000000"
SANDBOX_WEBHOOK_SECRET = "whsec_keel_sandbox_00000000000000000000"  # noqa: S105
SANDBOX_STARTUP_SECONDS = 30.0


def sandbox_env(*, sandbox_port: int) -> dict[str, str]:
    """What the web server, the worker and `billing_sync` get with `--billing-sandbox`: billing
    on, against the sandbox. The price lists are emptied so that plans come from the sandbox
    products' `plan` metadata rather than from a real account's price ids in `.env`."""
    return {
        "STRIPE_ENABLED": "true",
        "STRIPE_SECRET_KEY": SANDBOX_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": SANDBOX_PUBLISHABLE_KEY,
        "STRIPE_API_BASE": f"http://127.0.0.1:{sandbox_port}",
        "STRIPE_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET,
        "STRIPE_PRO_PRICE_IDS": "",
        "STRIPE_PREMIUM_PRICE_ID": "",
        "STRIPE_ENTERPRISE_PRICE_IDS": "",
        "STRIPE_ENTERPRISE_PRICE_ID": "",
        "STRIPE_PER_SEAT_PRICE_IDS": "",
    }


def sandbox_command(*, host: str, port: int, sandbox_port: int) -> list[str]:
    """`manage.py stripe_sandbox`, sending its signed events to this server's webhook route."""
    web_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in web_host:
        web_host = f"[{web_host}]"
    return [
        sys.executable, "manage.py", "stripe_sandbox",
        "--host", "127.0.0.1", "--port", str(sandbox_port),
        "--webhook-url", f"http://{web_host}:{port}{routes.STRIPE_WEBHOOK_PATH}",
        "--webhook-secret", SANDBOX_WEBHOOK_SECRET,
    ]  # fmt: skip


def sandbox_answers(sandbox_port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{sandbox_port}/v1/account",
        headers={"Authorization": f"Bearer {SANDBOX_SECRET_KEY}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


class Command(BaseCommand):
    help = "Serve Keel: uvicorn (HTTP + WebSockets) and the django-q2 worker, supervised together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1"))
        )
        parser.add_argument("--no-worker", action="store_true", help="Do not start the job worker.")
        parser.add_argument(
            "--reload", action="store_true", help="Reload the web server on code changes."
        )
        parser.add_argument(
            "--billing-sandbox",
            action="store_true",
            help="Also run the offline Stripe sandbox and serve with billing against it "
            "(development only; docs/billing.md).",
        )
        parser.add_argument(
            "--sandbox-port",
            type=int,
            default=12111,
            help="The Stripe sandbox's port (with --billing-sandbox).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["billing_sandbox"] and settings.IS_PRODUCTION:
            raise CommandError("The Stripe sandbox is for development only: not in production.")
        env = os.environ.copy()
        metrics_dir = Path(
            env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.VAR_DIR / "prometheus"))
        )
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True, exist_ok=True)

        web_cmd = [
            sys.executable, "-m", "uvicorn", "config.asgi:application",
            "--host", options["host"], "--port", str(options["port"]),
            "--no-proxy-headers",  # Keel resolves the client IP itself (TRUSTED_PROXIES)
            "--no-access-log",  # Keel logs one structured line per request
            "--ws-max-size", str(settings.WS_MAX_FRAME_BYTES),
            "--ws-ping-interval", "30", "--ws-ping-timeout", "30",
            "--lifespan", "on",  # the shutdown hooks (config/shutdown.py)
            "--log-level", "warning",
        ]  # fmt: skip
        if not settings.REDIS_URL and options["workers"] > 1:
            self.stderr.write(
                "Warning: several web processes without REDIS_URL do not share WebSocket events, "
                "rate limits or caches; set REDIS_URL (docs/configuration.md)."
            )
        if options["reload"]:
            web_cmd.append("--reload")
        elif options["workers"] > 1:
            web_cmd += ["--workers", str(options["workers"])]
        # Each child leads its own process group, so that shutdown reaches its whole tree (the
        # worker's pool, uvicorn's workers) even when the child itself has died.
        procs: dict[str, subprocess.Popen[bytes]] = {}
        if options["billing_sandbox"]:
            sandbox_port = options["sandbox_port"]
            env.update(sandbox_env(sandbox_port=sandbox_port))
            procs["sandbox"] = subprocess.Popen(
                sandbox_command(
                    host=options["host"], port=options["port"], sandbox_port=sandbox_port
                ),
                env=env,
                process_group=0,
            )
            try:
                ready = self._sandbox_ready(procs["sandbox"], sandbox_port, env)
            except BaseException:  # Ctrl-C while waiting: the sandbox is in a group of its own
                self._shutdown(procs)
                raise
            if not ready:
                self._shutdown(procs)
                raise SystemExit(1)
        procs["web"] = subprocess.Popen(web_cmd, env=env, process_group=0)
        if not options["no_worker"]:
            procs["worker"] = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], env=env, process_group=0
            )
        self.stdout.write(
            self.style.SUCCESS(f"Keel is serving on http://{options['host']}:{options['port']} ")
            + f"(processes: {', '.join(f'{n}={p.pid}' for n, p in procs.items())}). Ctrl-C stops."
        )
        if options["billing_sandbox"]:
            self.stdout.write(
                f"Billing runs against the Stripe sandbox on {env['STRIPE_API_BASE']}: checkout "
                "opens its stand-in page, where 'Pay (sandbox)' subscribes without a card."
            )

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        # SIGHUP too (the terminal closed): the children lead process groups of their own, so
        # nothing else would stop them.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    code = proc.poll()
                    if code is not None:
                        self.stderr.write(f"{name} exited with status {code}; stopping.")
                        exit_code = code or 1
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            self._shutdown(procs)
        if exit_code:
            raise SystemExit(exit_code)

    def _sandbox_ready(
        self, sandbox: subprocess.Popen[bytes], sandbox_port: int, env: dict[str, str]
    ) -> bool:
        """Wait for the sandbox to answer, then pull its catalogue (`billing_sync`) so that the
        pricing page has plans. False (after saying why) when either fails."""
        deadline = time.monotonic() + SANDBOX_STARTUP_SECONDS
        while not sandbox_answers(sandbox_port):
            if sandbox.poll() is not None:
                self.stderr.write(f"The Stripe sandbox exited with status {sandbox.returncode}.")
                return False
            if time.monotonic() > deadline:
                self.stderr.write(f"The Stripe sandbox did not answer on port {sandbox_port}.")
                return False
            time.sleep(0.2)
        synced = subprocess.run([sys.executable, "manage.py", "billing_sync"], env=env, check=False)
        if synced.returncode != 0:
            self.stderr.write("billing_sync against the Stripe sandbox failed; stopping.")
            return False
        return True

    def _shutdown(self, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        for proc in procs.values():  # the leaders stop their own children gracefully...
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        grace = min(deadline, time.monotonic() + 5)
        while time.monotonic() < grace and any(_group_alive(p) for p in procs.values()):
            time.sleep(0.2)  # let the children's own children finish
        for proc in procs.values():
            _signal_group(proc, signal.SIGKILL)  # ...anything left in a group is an orphan
        self.stdout.write("Keel stopped.")


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    """Whether any process of the child's group still runs (zombies do not count)."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc_dir.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == proc.pid:  # state, ppid, pgrp
            return True
    return False
