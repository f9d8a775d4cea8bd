"""The OpenAPI document is valid and lists every API route that exists."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema?format=json")
    assert response.status_code == 200
    return response.json()


def api_routes() -> set[str]:
    """Every concrete route under /api/v1 from the URLconf, as OpenAPI paths."""
    routes: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif (
                isinstance(p, URLPattern) and route.startswith("api/v1/") and p.name != "not-found"
            ):
                routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return routes


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_the_schema_documents_every_api_route(schema):
    documented = set(schema["paths"])
    missing = {
        r for r in api_routes() if r not in documented and not r.startswith("/api/v1/health")
    }
    assert not missing, f"routes missing from the OpenAPI schema: {sorted(missing)}"


def test_the_schema_lists_the_root_health_routes_once(schema):
    assert {"/health", "/health/ready", "/health/live"} <= set(schema["paths"])
    assert not any(
        p.startswith("/api/health") or p.startswith("/api/v1/health") for p in schema["paths"]
    )
    assert not any(p.startswith("/api/") and not p.startswith("/api/v1/") for p in schema["paths"])


def test_every_operation_documents_the_error_envelope(schema):
    assert "Error" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            ref = operation["responses"]["500"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error", (path, method)


def test_the_docs_page_uses_local_assets(client):
    html = client.get("/api/docs").content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html
