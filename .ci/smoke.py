"""Smoke-test a running Keel: health, pages, API docs, metrics, admin sign-in, WebSocket ping/pong.

    python .ci/smoke.py http://127.0.0.1:8000 [email password]

Uses only the standard library and `websockets` (a dev dependency). Exits non-zero on failure.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import sys
import time
import urllib.parse
import urllib.request

import websockets


def wait_ready(base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=3) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{base}/health/ready did not answer 200 within {timeout} s")
        time.sleep(1)


def main() -> None:
    base = sys.argv[1].rstrip("/")
    email = sys.argv[2] if len(sys.argv) > 2 else "superadmin@example.com"
    password = sys.argv[3] if len(sys.argv) > 3 else "Admin123!"
    wait_ready(base)
    print("ok  /health/ready 200")

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    for path, needle in [
        ("/", b"Keel"),
        ("/api/docs", b"swagger"),
        ("/api/schema?format=json", b'"openapi"'),
        ("/metrics", b"keel_http_requests_total"),
        ("/accounts/login/?next=/admin/", b"csrfmiddlewaretoken"),
    ]:
        with opener.open(f"{base}{path}", timeout=10) as resp:
            body = resp.read()
            assert resp.status == 200 and needle in body, f"{path}: {resp.status}"
            print(f"ok  {path} 200")
            if path.startswith("/accounts/login/"):
                login_page = body.decode()

    # Staff sign in through Keel's sign-in page (allauth), which then opens the admin.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "login": email, "password": password, "next": "/admin/"}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
    )
    with opener.open(request, timeout=10) as resp:
        assert (
            resp.status == 200 and b"Keel administration" in resp.read() and "/admin/" in resp.url
        ), resp.url
    print("ok  admin sign-in")

    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    ws_url = base.replace("http://", "ws://").replace("https://", "wss://") + "/ws"

    async def ping() -> None:
        async with websockets.connect(
            ws_url, additional_headers={"Cookie": cookies, "Origin": base}
        ) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert reply["type"] == "pong", reply
        print("ok  WebSocket ping/pong")

    asyncio.run(ping())
    print("smoke: all checks passed")


if __name__ == "__main__":
    main()
