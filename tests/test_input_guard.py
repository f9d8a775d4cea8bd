"""Input the database and the JSON encoder cannot take is refused once, at the edge (issue 10).

NUL, lone surrogates and integers outside the signed 64-bit range: a 400 naming the field,
never a 500, never the value echoed, nothing stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.models import User
from config.input_guard import INT64_MAX, check_data, check_text
from organizations.models import Membership, Organization, OrgRole
from security.models import AuditLog, SystemSetting
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

HUGE = INT64_MAX + 1
LONE_SURROGATE = "\ud800"
BAD_TEXT = {"lone surrogate": "x\ud800y", "low surrogate": "\udfff", "NUL": "a\x00b"}


# --- the check itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": "ok", "bio": "\ud800"}, "bio", "invalid_characters"),
        ({"events": [{"quantity": 1}, {"quantity": HUGE}]}, "events[1].quantity", "out_of_range"),
        ({"events": [{"meta": {"k": "a\x00"}}]}, "events[0].meta.k", "invalid_characters"),
        ({"social_links": {"\ud800": "x"}}, "social_links", "invalid_characters"),
        ({"\x00": 1}, "body", "invalid_characters"),
        ({"user_id": -HUGE - 1}, "user_id", "out_of_range"),
        ({"amount": float("inf")}, "amount", "out_of_range"),
        (["\ud800"], "body[0]", "invalid_characters"),
    ],
)
def test_the_check_names_the_first_bad_field(data, field, code):
    problem = check_data(data)
    assert problem is not None and (problem.field, problem.code) == (field, code)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Zoë 😀 \u202e", "n": INT64_MAX, "m": -(2**63), "f": 1.5, "t": True, "z": None},
        ["\U0001f600", {"nested": ["ok"]}],
    ],
)
def test_the_check_lets_valid_input_through(data):
    assert check_data(data) is None


def test_text_parameters_overflow_only_when_they_are_integers():
    assert check_text(str(HUGE), "user_id").code == "out_of_range"
    assert check_text("-" + str(HUGE + 1), "user_id").code == "out_of_range"
    assert check_text(str(INT64_MAX), "user_id") is None
    assert check_text("9" * 30 + "x", "search") is None
    assert check_text("9" * 10_000, "page").code == "out_of_range"  # beyond int()'s digit limit


# --- every text field of every request serializer, through the API -----------------------------


def _request_text_fields() -> list[tuple[str, str, str]]:
    """(method, path, field) for each string property of each JSON request body in the schema:
    the schema is generated from the serializers, so this covers every serializer's text and
    choice fields."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        if "allOf" in node and len(node["allOf"]) == 1:
            return resolve(node["allOf"][0])
        return node

    cases = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = resolve(content["application/json"]["schema"])
            for name, prop in body.get("properties", {}).items():
                prop = resolve(prop)
                if prop.get("readOnly"):
                    continue
                if prop.get("type") == "string" or "enum" in prop or "oneOf" in prop:
                    cases.append((method.upper(), path, name))
    return cases


TEXT_FIELDS = _request_text_fields()


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    root = UserFactory(email="root@example.com", role="super_admin")
    member = UserFactory(email="member@example.com")
    org = OrganizationFactory(name="Guarded", slug="guarded", created_by=root)
    MembershipFactory(organization=org, user=root, role=OrgRole.OWNER)
    MembershipFactory(organization=org, user=member, role=OrgRole.MEMBER)
    client = APIClient()
    client.force_authenticate(root)
    return {"root": root, "member": member, "org": org, "client": client}


def _fill(path: str, world: dict[str, Any]) -> str:
    return (
        path.replace("{slug}", world["org"].slug)
        .replace("{user_id}", str(world["member"].id))
        .replace("{name}", "site_name")
    )


def _send(client: APIClient, method: str, path: str, body: Any) -> Any:
    # json.dumps escapes the bad characters (`"\ud800"`), as a hostile client would send them.
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def test_the_schema_yields_the_text_fields_of_every_body():
    assert len(TEXT_FIELDS) > 60
    assert ("PUT", "/api/v1/users/me/preferences", "theme") in TEXT_FIELDS
    assert ("POST", "/api/v1/organizations", "slug") in TEXT_FIELDS


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
@pytest.mark.parametrize(("method", "path", "field"), TEXT_FIELDS)
def test_bad_characters_in_any_text_field_are_a_400_naming_it(world, method, path, field, bad):
    # /auth routes as an anonymous client: signed in, some of them ignore the body.
    client = APIClient() if path.startswith("/api/v1/auth/") else world["client"]
    response = _send(client, method, _fill(path, world), {field: bad})
    raw = response.content.decode("utf-8")  # the response itself is always encodable
    assert "\x00" not in raw and "\\u0000" not in raw and "\\ud800" not in raw.lower()
    body = response.json()
    if path == "/api/v1/auth/logout":  # logout never fails; a bad body is ignored
        assert response.status_code == 200, body
        return
    assert response.status_code == 400, body
    assert body["error"] == "VALIDATION_ERROR"
    assert body["details"][0] == {
        "field": field,
        "message": "Contains characters that are not allowed",
        "code": "invalid_characters",
    }
    assert body["message"] == f"{field}: Contains characters that are not allowed"


def test_a_bad_key_is_refused_without_echoing_it(world):
    response = _send(world["client"], "PATCH", "/api/v1/users/me", {"name": "X", "\ud800": 1})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "body"


def test_form_and_multipart_api_bodies_are_checked_too(world):
    client = world["client"]
    response = client.post("/api/v1/organizations", {"name": "Ok\x00", "slug": "okay"})
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "name"
    response = client.put(
        "/api/v1/organizations/guarded",
        "name=Ok%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400 and response.json()["details"][0]["field"] == "name"
    assert Organization.objects.filter(slug="okay").count() == 0


# --- the defects found by fuzzing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("DELETE", "/api/v1/organizations/guarded/members/{huge}", None, "user_id"),
        ("PUT", "/api/v1/organizations/guarded/members/{huge}/role", {"role": "admin"}, "user_id"),
        ("POST", "/api/v1/organizations/guarded/transfer-ownership", {"user_id": HUGE}, "user_id"),
        ("GET", "/api/v1/admin/audit-logs?user_id={huge}", None, "user_id"),
        ("GET", "/api/v1/users/{huge}", None, "user_id"),
        ("POST", "/api/v1/admin/impersonate", {"user_id": -HUGE - 5}, "user_id"),
    ],
)
def test_ids_beyond_64_bits_are_a_400_naming_the_field(world, method, path, body, field):
    response = world["client"].generic(
        method,
        path.format(huge=HUGE),
        json.dumps(body) if body is not None else "",
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["details"][0] == {
        "field": field,
        "message": f"Ensure this number is between {-(2**63)} and {INT64_MAX}",
        "code": "out_of_range",
    }
    assert Membership.objects.get(organization=world["org"], user=world["root"]).role == "owner"


def test_an_id_spelled_as_a_huge_string_is_a_400_not_a_500(world):
    response = _send(
        world["client"],
        "POST",
        "/api/v1/organizations/guarded/transfer-ownership",
        {"user_id": str(HUGE)},
    )
    assert response.status_code == 400, response.content
    assert response.json()["details"][0]["field"] == "user_id"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/v1/users/me/preferences", {"theme": LONE_SURROGATE}),
        ("PATCH", "/api/v1/users/{member}/role", {"role": LONE_SURROGATE}),
        ("PUT", "/api/v1/admin/users/{member}/role", {"role": LONE_SURROGATE}),
        ("POST", "/api/v1/users", {"name": "N", "email": "n@example.com", "role": LONE_SURROGATE}),
    ],
)
def test_a_lone_surrogate_in_a_choice_field_is_not_echoed(world, method, path, body):
    response = _send(world["client"], method, path.format(member=world["member"].id), body)
    assert response.status_code == 400
    assert "\\ud800" not in response.content.decode().lower()
    assert not User.objects.filter(email="n@example.com").exists()


def test_a_lone_surrogate_cannot_break_the_site_name_for_everyone(world):
    client = world["client"]
    response = _send(client, "PUT", "/api/v1/admin/settings/site_name", {"value": "Keel\ud800"})
    assert response.status_code == 400
    assert not SystemSetting.objects.filter(key="site_name", is_customized=True).exists()
    assert client.get("/api/v1/admin/settings").status_code == 200
    site = client.get("/api/v1/admin/settings/site")
    assert site.status_code == 200 and "Keel" not in site.json()["site_name"]
    assert client.get("/api/v1/admin/audit-logs").status_code == 200
    member = APIClient()
    member.force_authenticate(world["member"])
    assert member.post("/api/v1/users/me/2fa/setup").status_code == 200


def test_a_lone_surrogate_cannot_break_a_users_activity(world):
    client = world["client"]
    response = _send(client, "PATCH", "/api/v1/users/me", {"social_links": {"x": "\ud800"}})
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "social_links.x"
    assert client.get("/api/v1/users/me/activity").status_code == 200
    assert client.get("/api/v1/users/me").status_code == 200
    assert not AuditLog.objects.filter(actor=world["root"], action="profile_update").exists()


# --- the same rule on Keel's pages --------------------------------------------------------------


def test_a_page_form_post_with_nul_is_a_400_page_naming_the_field(world):
    browser = Client()
    browser.force_login(world["member"])
    response = browser.post("/settings/profile/", {"name": "Mallory\x00", "bio": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "<strong>name</strong>" in page and "\x00" not in page
    world["member"].refresh_from_db()
    assert world["member"].name != "Mallory\x00"


def test_every_value_of_a_repeated_parameter_is_checked(world):
    response = world["client"].get("/api/v1/admin/audit-logs?action=%00&action=login")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "action"
    browser = Client()
    response = browser.post("/accounts/login/", "login=a%00&login=b@example.com&password=x",
                            content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 400


def test_a_page_query_string_with_nul_is_a_400_page(world):
    browser = Client()
    response = browser.get("/accounts/login/", {"next": "/\x00"})
    assert response.status_code == 400
    assert "<strong>next</strong>" in response.content.decode()


def test_sign_in_still_works_with_ordinary_unicode(world):
    UserFactory(email="zoe@example.com", name="Zoë 😀")
    response = APIClient().post(
        "/api/v1/auth/token",
        {"email": "zoe@example.com", "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
