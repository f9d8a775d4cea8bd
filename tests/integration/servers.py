"""Real Keel server processes for integration tests (uvicorn on the test database)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
READY_TIMEOUT = 60
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local servers only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_servers() -> str:
    """pytest-django's test database (NAME is already the test name here) as a URL."""
    db = settings.DATABASES["default"]
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{db.get('HOST') or '127.0.0.1'}{port}/{quote(db['NAME'])}"


@dataclass
class Server:
    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    shown: int = field(default=0)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def new_output(self) -> str:
        text = self.output()
        fresh, self.shown = text[self.shown :], len(text)
        return fresh


def start(server: Server, env: dict[str, str]) -> None:
    with server.log.open("wb") as out:
        server.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(server.port),
                "--no-proxy-headers",
            ],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_live(server: Server) -> None:
    assert server.proc is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        code = server.proc.poll()
        assert code is None, f"{server.name} exited with {code} before serving:\n{server.output()}"
        try:
            with NO_PROXY.open(
                f"http://127.0.0.1:{server.port}/health/live", timeout=2
            ) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet (URLError is an OSError)
            pass
        assert time.monotonic() < deadline, (
            f"{server.name} not live after {READY_TIMEOUT} s:\n{server.output()}"
        )
        time.sleep(0.2)


def stop(server: Server) -> None:
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:  # exited meanwhile
        proc.wait(timeout=10)


# Skipped locally without PostgreSQL and Redis; a failure in CI (CI=true), where a skip would
# hide that the multi-process tests never ran (fixture `postgres_and_redis`, tests/conftest.py).
NEEDS_POSTGRES_AND_REDIS = pytest.mark.usefixtures("postgres_and_redis")


@contextmanager
def running_servers(tmp: Path, **env: str) -> Iterator[list[Server]]:
    """Two uvicorn processes on the test database and the configured Redis, plus `env`;
    stopped afterwards whatever happens."""
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url_for_servers(),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    pair = [Server(name, free_port(), tmp / f"{name}.log") for name in ("server-a", "server-b")]
    try:
        for server in pair:
            start(server, full_env)
        for server in pair:
            wait_until_live(server)
        yield pair
    finally:
        for server in pair:
            stop(server)
