"""The WebSocket side of `make loadtest`'s fan-out row, run as its own process:

    python -m config.loadtest.fanout < job.json

The job is `{"urls": [...], "tokens": [...], "event": "org_update", "events": 3,
"timeout": 30}`. Socket i connects to urls[i % len(urls)] with tokens[i]. Once every socket is
open it prints `READY`; then it records, per expected event, the wall-clock time at which each
socket received it, and prints `{"received": [[t, ...], ...], "missing": n}` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import websockets


async def _socket(url: str, token: str, job: dict[str, Any], opened: asyncio.Event,
                  ready: list[int], times: list[list[float]]) -> None:  # fmt: skip
    async with websockets.connect(f"{url}?token={token}", open_timeout=30, max_queue=None) as ws:
        ready[0] += 1
        if ready[0] == len(job["tokens"]):
            opened.set()
        seen = 0
        while seen < job["events"]:
            message = json.loads(await ws.recv())
            if message.get("type") == job["event"]:
                times[seen].append(time.time())
                seen += 1


async def main(job: dict[str, Any]) -> dict[str, Any]:
    opened = asyncio.Event()
    ready = [0]
    times: list[list[float]] = [[] for _ in range(job["events"])]
    urls = job["urls"]
    tasks = []
    for i, token in enumerate(job["tokens"]):
        tasks.append(
            asyncio.create_task(_socket(urls[i % len(urls)], token, job, opened, ready, times))
        )
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # connect in waves, as clients would
    await asyncio.wait_for(opened.wait(), timeout=job["timeout"])
    print("READY", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=job["timeout"])
    for task in pending:
        task.cancel()
    failed = [repr(t.exception()) for t in done if t.exception() is not None]
    return {"received": times, "missing": len(pending), "failed": failed[:5]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.load(sys.stdin)))), flush=True)
