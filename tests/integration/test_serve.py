"""`manage.py serve` as a person runs it: one command, two processes, one Ctrl-C stops both.

Each test starts the real command as a subprocess in its own process group, on the embedded
default (a temporary SQLite file, no Redis), and checks what it serves and that stopping it
leaves no process behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.integration

BASE_DIR = Path(settings.BASE_DIR)
STOP_TIMEOUT = 20  # seconds: the supervisor's promise
READY_TIMEOUT = 90
HEARTBEAT_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the task ended meanwhile
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> set[int]:
    result: set[int] = set()
    pending = [pid]
    while pending:
        for child in children(pending.pop()):
            if child not in result:
                result.add(child)
                pending.append(child)
    return result


def alive(pid: int) -> bool:
    """Running (a zombie is dead: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]


@pytest.fixture(scope="module")
def serve_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a fresh embedded-default install, migrated once for the module."""
    tmp = tmp_path_factory.mktemp("serve")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "Q_BROKER", "DJANGO_ALLOW_ASYNC_UNSAFE", "SECRET_KEY"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "prometheus"),
        KEEL_IGNORE_DOTENV="1",
        ENVIRONMENT="development",
        DEBUG="true",
        PYTHONUNBUFFERED="1",
    )
    (tmp / "prometheus").mkdir()  # metrics are per process: every process writes here
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    return env


@pytest.fixture
def serve(serve_env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR,
            env=serve_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal would give it
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert proc.poll() is None, f"serve exited early:\n{served.output()}"
            try:
                if get_json(f"{served.base}/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                f"not ready in {READY_TIMEOUT} s:\n{served.output()}"
            )
            time.sleep(0.5)
        yield served
    finally:
        # Whatever the test did or failed to do: leave no process of this group behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while (left := {pid for pid in pids if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def worker_and_web(served: Served) -> dict[str, int]:
    """serve's own report of its children: `(processes: web=123, worker=456)`."""
    deadline = time.monotonic() + 10
    while "processes:" not in (text := served.output(tail=10**7)):
        assert time.monotonic() < deadline, served.output()
        time.sleep(0.2)
    line = text.split("processes:", 1)[1].split(")", 1)[0]
    pids = dict(part.strip().split("=") for part in line.split(","))
    return {name: int(pid) for name, pid in pids.items()}


def test_serve_runs_web_and_worker_and_stops_on_sigint(serve: Served):
    procs = worker_and_web(serve)
    assert set(procs) == {"web", "worker"}
    assert set(procs.values()) <= set(children(serve.proc.pid))

    # The worker records a heartbeat when it spawns its processes: /health shows jobs healthy.
    deadline = time.monotonic() + HEARTBEAT_TIMEOUT
    while True:
        status, body = get_json(f"{serve.base}/health")
        components = {c["name"]: c for c in body.get("components", [])}
        if components.get("jobs", {}).get("status") == "healthy":
            break
        assert time.monotonic() < deadline, f"jobs never healthy: {body}\n{serve.output()}"
        time.sleep(1)
    assert status == 200
    assert components["database"]["status"] == "healthy"

    # Everything serve started, down to the worker's own pool.
    tree = descendants(serve.proc.pid)
    assert len(tree) > 2, tree
    serve.proc.send_signal(signal.SIGINT)  # to serve alone: it must stop its children itself
    try:
        code = serve.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve still running {STOP_TIMEOUT} s after SIGINT:\n{serve.output()}")
    assert code == 0, serve.output()
    left = wait_gone(tree, timeout=2)
    assert not left, f"orphaned processes after SIGINT: {sorted(left)}\n{serve.output()}"
    assert "Keel stopped." in serve.output()


def test_ctrl_c_to_the_process_group_stops_everything(serve: Served):
    worker_and_web(serve)
    tree = descendants(serve.proc.pid) | {serve.proc.pid}
    started = time.monotonic()
    os.killpg(serve.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    left = wait_gone(tree - {serve.proc.pid}, timeout=STOP_TIMEOUT)
    serve.proc.wait(timeout=max(1, STOP_TIMEOUT - (time.monotonic() - started)))
    assert not left, f"still running {STOP_TIMEOUT} s after Ctrl-C: {sorted(left)}"
    with pytest.raises(ProcessLookupError):
        os.killpg(serve.proc.pid, 0)  # nothing left in the group, not even a zombie


def test_a_hangup_stops_serve_and_its_children(serve: Served):
    """The terminal closed (SIGHUP to serve's group): the children lead groups of their own,
    so only serve can stop them."""
    worker_and_web(serve)
    tree = descendants(serve.proc.pid)
    serve.proc.send_signal(signal.SIGHUP)
    serve.proc.wait(timeout=STOP_TIMEOUT)
    left = wait_gone(tree, timeout=STOP_TIMEOUT)
    assert not left, f"orphaned processes after SIGHUP: {sorted(left)}\n{serve.output()}"


def test_serve_stops_the_web_server_when_the_worker_dies(serve: Served):
    procs = worker_and_web(serve)
    web_tree = descendants(procs["web"]) | {procs["web"]}
    os.kill(procs["worker"], signal.SIGKILL)
    try:
        code = serve.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve kept running without its worker:\n{serve.output()}")
    assert code != 0
    assert "worker exited" in serve.output()
    assert not wait_gone(web_tree, timeout=2)


def test_a_killed_worker_leaves_no_orphaned_pool(serve: Served):
    procs = worker_and_web(serve)
    deadline = time.monotonic() + 10
    while len(pool := descendants(procs["worker"])) < 2:  # the pool takes a moment to spawn
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.2)
    os.kill(procs["worker"], signal.SIGKILL)
    serve.proc.wait(timeout=STOP_TIMEOUT)
    left = wait_gone(pool, timeout=5)
    assert not left, f"the killed worker's processes still run: {sorted(left)}"


def test_stopping_serve_writes_the_blocklist_hits_still_in_memory(
    serve: Served, serve_env: dict[str, str]
):
    created = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from security.models import IPBlock;"
         "print(IPBlock.objects.create(ip_address='127.0.0.1', reason='serve test').pk)"],
        cwd=BASE_DIR, env=serve_env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    block_id = int(created.stdout.strip())
    refused = 0
    deadline = time.monotonic() + 15  # the web process reloads its copy within 5 s
    while refused == 0:
        refused += get_json(f"{serve.base}/api/v1/csrf-token")[0] == 403
        assert time.monotonic() < deadline, serve.output()
        time.sleep(0.1)
    for _ in range(4):  # a burst, then the stop: no later hit, no timer yet
        refused += get_json(f"{serve.base}/api/v1/csrf-token")[0] == 403
    serve.proc.send_signal(signal.SIGINT)
    assert serve.proc.wait(timeout=STOP_TIMEOUT) == 0, serve.output()
    database = serve_env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        (hits,) = db.execute(
            "SELECT hit_count FROM security_ipblock WHERE id = ?", (block_id,)
        ).fetchone()
        db.execute("DELETE FROM security_ipblock WHERE id = ?", (block_id,))
    assert hits == refused == 5
