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


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def component(schema, ref):
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_every_write_documents_the_idempotency_statuses_and_header(schema):
    for path, method, operation in operations(schema):
        if method in ("post", "put", "patch") and path.startswith("/api/"):
            assert {"409", "422"} <= set(operation["responses"]), (path, method)
            names = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in names, (path, method)


def test_json_bodies_are_documented_as_json_only_and_may_answer_415(schema):
    for path, method, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            assert set(content) == {"application/json"}, (path, method)
            assert "415" in operation["responses"], (path, method)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/organizations", "post"),
        ("/api/v1/users/me", "put"),
        ("/api/v1/users/me", "patch"),
        ("/api/v1/users/{user_id}", "put"),
        ("/api/v1/users/me/export", "post"),
        ("/api/v1/organizations/{slug}/members/invite", "post"),
        ("/api/v1/organizations/{slug}", "delete"),
    ],
)
def test_conflicts_are_documented(schema, path, method):
    response = schema["paths"][path][method]["responses"]["409"]
    assert response["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_seat_limits_are_documented_as_402(schema):
    for path in ("/api/v1/organizations/{slug}/members/invite", "/api/v1/invitations/accept"):
        assert "402" in schema["paths"][path]["post"]["responses"]


def test_the_slug_rules_are_in_the_schema(schema):
    create = schema["paths"]["/api/v1/organizations"]["post"]["requestBody"]["content"]
    body = component(schema, create["application/json"]["schema"])
    assert (body["properties"]["name"]["minLength"], body["properties"]["name"]["maxLength"]) == (
        2,
        100,
    )
    slug = body["properties"]["slug"]
    assert (slug["minLength"], slug["maxLength"]) == (2, 63)
    assert slug["pattern"] == "^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"  # stored lowercased
    for path, _method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "slug":
                assert parameter["schema"]["pattern"] == "^[a-z0-9]+(?:-[a-z0-9]+)*$", path


def test_the_avatar_upload_answers_the_e_envelope(schema):
    ok = schema["paths"]["/api/v1/users/me/avatar"]["post"]["responses"]["200"]
    body = component(schema, ok["content"]["application/json"]["schema"])
    assert set(body["properties"]) == {"success", "message", "data"}
    assert "avatar_url" in component(schema, body["properties"]["data"])["properties"]


def test_path_ids_are_positive_64_bit_integers(schema):
    for path, _method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["minimum"] == 1, path
                assert parameter["schema"]["maximum"] == 2**63 - 1, path
