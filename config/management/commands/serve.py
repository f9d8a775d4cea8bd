"""Run the ASGI server (HTTP + WebSockets) and the django-q2 worker together.

Ctrl-C (SIGINT) or SIGTERM stops both; if either dies, the other is stopped too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


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

    def handle(self, *args: Any, **options: Any) -> None:
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
        procs: dict[str, subprocess.Popen[bytes]] = {
            "web": subprocess.Popen(web_cmd, env=env, process_group=0)
        }
        if not options["no_worker"]:
            procs["worker"] = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"], env=env, process_group=0
            )
        self.stdout.write(
            self.style.SUCCESS(f"Keel is serving on http://{options['host']}:{options['port']} ")
            + f"(processes: {', '.join(f'{n}={p.pid}' for n, p in procs.items())}). Ctrl-C stops."
        )

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
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
