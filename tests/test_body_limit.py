"""Request-body limits (contract §0.11): 413 REQUEST_TOO_LARGE, per route."""

from __future__ import annotations

import json

import pytest

from config.asgi_limits import BodyLimitASGIMiddleware
from config.middleware.body_limit import body_limit_for

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]

MIB = 1024 * 1024


def test_it_refuses_bodies_over_one_mib(api):
    response = api.generic(
        "POST", "/api/v1/_echo", "x" * (MIB + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"] == "REQUEST_TOO_LARGE"


def test_it_accepts_bodies_up_to_the_limit(api):
    payload = json.dumps({"pad": "x" * (MIB - 20)})
    assert len(payload) <= MIB
    assert (
        api.generic("POST", "/api/v1/_echo", payload, content_type="application/json").status_code
        == 200
    )


def test_the_stripe_webhook_is_limited_to_64_kib(api):
    response = api.generic(
        "POST", "/api/v1/webhooks/stripe", "x" * (64 * 1024 + 1), content_type="application/json"
    )
    assert response.status_code == 413


def test_avatars_may_be_up_to_5_mb(api):
    body = b"x" * (3 * MIB)
    response = api.generic(
        "POST", "/api/v1/users/me/avatar", body, content_type="application/octet-stream"
    )
    assert response.status_code != 413


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/webhooks/stripe", 64 * 1024),
        ("/api/webhooks/stripe", 64 * 1024),
        ("/api/v1/files/upload", 10 * MIB),
        ("/api/v1/users/me/avatar", 5 * MIB),
        ("/api/v1/organizations", MIB),
    ],
)
def test_it_knows_each_routes_limit(path, limit):
    assert body_limit_for(path) == limit


def test_it_rejects_a_malformed_content_length(api):
    response = api.generic(
        "POST", "/api/v1/_echo", "{}", content_type="application/json", CONTENT_LENGTH="abc"
    )
    assert response.status_code == 400


class Recorder:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None


def scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


@pytest.mark.asyncio
async def test_the_asgi_edge_refuses_by_content_length_without_reading_the_body():
    called = False

    async def app(scope, receive, send):
        nonlocal called
        called = True

    async def receive():
        raise AssertionError("the body must not be read")

    send = Recorder()
    await BodyLimitASGIMiddleware(app)(
        scope("/api/v1/x", [(b"content-length", str(2 * MIB).encode())]), receive, send
    )
    assert send.status == 413 and not called
    body = json.loads(send.messages[1]["body"])
    assert body["error"] == "REQUEST_TOO_LARGE" and body["code"] == 413


@pytest.mark.asyncio
async def test_the_asgi_edge_stops_reading_a_chunked_body_past_the_limit():
    chunks = [
        {"type": "http.request", "body": b"x" * (512 * 1024), "more_body": True} for _ in range(4)
    ]
    seen: list[str] = []

    async def receive():
        return chunks.pop(0)

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return

    send = Recorder()
    await BodyLimitASGIMiddleware(app)(
        scope("/api/v1/x", [(b"x-request-id", b"edge-1")]), receive, send
    )
    assert seen == ["http.request", "http.request", "http.disconnect"]
    assert send.status == 413
    assert json.loads(send.messages[1]["body"])["request_id"] == "edge-1"


@pytest.mark.asyncio
async def test_the_asgi_edge_passes_small_bodies_through():
    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})

    send = Recorder()
    await BodyLimitASGIMiddleware(app)(
        scope("/api/v1/x", [(b"content-length", b"2")]), receive, send
    )
    assert send.status == 200
