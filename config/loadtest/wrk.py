"""One load run with wrk (Debian's `wrk`), parsed: requests/s, p50, p99, non-2xx, errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int  # wrk counts responses outside 2xx/3xx
    socket_errors: int


class WrkMissing(RuntimeError):
    pass


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: apt-get install wrk (make loadtest does this)")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse(output: str) -> Run:
    """wrk's report (run with --latency) as a Run."""
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not (requests and rps and {"50", "99"} <= percentiles.keys()):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Run(
        rps=float(rps[1]),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run(url: str, *, clients: int, seconds: float, headers: dict[str, str]) -> Run:
    """`clients` keep-alive connections on one wrk thread (the generator's share of the CPU
    stays small) for `seconds`."""
    command = [
        wrk_path(), "--latency", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s",
    ]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout)


def version() -> str:
    done = subprocess.run([wrk_path(), "--version"], capture_output=True, text=True, check=False)
    return " ".join((done.stdout or done.stderr).split()[:2])
