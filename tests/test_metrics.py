from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_metrics_expose_requests_by_route_pattern(client):
    client.get("/api/v1/csrf-token")
    client.get("/api/v1/no/such/thing/123")
    text = client.get("/metrics").content.decode()
    assert 'keel_http_requests_total{method="GET",route="/api/v1/csrf-token",status="200"}' in text
    assert 'route="<unmatched>"' in text
    assert "/no/such/thing/123" not in text
    assert "django_http_requests_total_by_method_total" in text
    assert "keel_websocket_connections" in text


def test_metrics_require_the_token_when_configured(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["error"] == "UNAUTHORIZED"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200
