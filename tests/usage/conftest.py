"""Usage fixtures: the plan limits of contract §6.1, a clock frozen one half-minute into a
month (so that the previous month's last second and this month's first are both in reach), and
helpers that post to the usage routes of a scope."""

from __future__ import annotations

from typing import Any

import pytest

FREE = {
    "api_calls": 10_000,
    "storage_bytes": 1_073_741_824,
    "compute_ms": 3_600_000,
    "file_uploads": 100,
}
PRO = {key: value * 10 for key, value in FREE.items()}
ENTERPRISE = {key: value * 100 for key, value in FREE.items()}
ZEROS = dict.fromkeys(FREE, 0)

# "Now" in the boundary tests: 30 s into March 2026 (UTC).
NOW = "2026-03-01T00:00:30Z"


@pytest.fixture
def march_first(time_machine: Any) -> None:
    time_machine.move_to(NOW, tick=False)


def base(slug: str | None = None) -> str:
    return f"/api/v1/organizations/{slug}/usage" if slug else "/api/v1/usage"


def record(client: Any, slug: str | None = None, **body: Any) -> Any:
    return client.post(f"{base(slug)}/record", body, format="json")


def ingest(client: Any, events: Any, slug: str | None = None, **extra: Any) -> Any:
    return client.post(f"{base(slug)}/events", {"events": events}, format="json", **extra)


def summary(client: Any, slug: str | None = None, **extra: Any) -> Any:
    return client.get(base(slug), **extra)


def fields(response: Any) -> list[str]:
    """The field paths of a 400 VALIDATION_ERROR (contract §0.7)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR", body
    return [detail["field"] for detail in body["details"]]
