"""Run the ASGI server (HTTP + WebSockets) and the django-q2 worker together.

Ctrl-C (SIGINT) or SIGTERM stops both; if either dies, the other is stopped too.
"""

from __future__ import annotations

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
            "--lifespan", "off", "--log-level", "warning",
        ]  # fmt: skip
        if options["reload"]:
            web_cmd.append("--reload")
        elif options["workers"] > 1:
            web_cmd += ["--workers", str(options["workers"])]
        procs: dict[str, subprocess.Popen[bytes]] = {"web": subprocess.Popen(web_cmd, env=env)}
        if not options["no_worker"]:
            procs["worker"] = subprocess.Popen([sys.executable, "manage.py", "qcluster"], env=env)
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
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it.")
                proc.kill()
                proc.wait()
        self.stdout.write("Keel stopped.")
