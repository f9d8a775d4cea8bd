"""Keel's own Prometheus metrics (`keel_*`), next to django-prometheus's.

Works in prometheus_client's multi-process mode when PROMETHEUS_MULTIPROC_DIR is set
(`make run` and docker-compose set it), so web and worker processes report together.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "keel_http_requests_total", "HTTP requests by route pattern", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "keel_http_request_duration_seconds",
    "HTTP request duration by route pattern",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBSOCKET_CONNECTIONS = Gauge(
    "keel_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum"
)
WEBSOCKET_MESSAGES = Counter(
    "keel_websocket_messages_total", "WebSocket frames sent", ["direction"]
)
AUTHENTICATIONS = Counter(
    "keel_authentications_total", "Authentication attempts", ["method", "result"]
)
USAGE_EVENTS = Counter("keel_usage_events_total", "Metered usage events recorded", ["usage_type"])
JOBS = Counter("keel_jobs_total", "Background jobs finished", ["task", "result"])
ACTIVE_SUBSCRIPTIONS = Gauge(
    "keel_active_subscriptions", "Live Stripe subscriptions", multiprocess_mode="mostrecent"
)


def observe_request(method: str, route: str, status: int, duration: float) -> None:
    HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    HTTP_LATENCY.labels(method=method, route=route).observe(duration)
