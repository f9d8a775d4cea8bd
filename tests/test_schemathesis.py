"""Schemathesis over the OpenAPI document: every operation, as a plain user, an org owner and
a super admin, with generated valid and invalid input.

The schema is loaded from the app (`/api/schema`) and every request goes through the whole
middleware stack in-process (Django's WSGI handler through Werkzeug's client; no network).
Each role is one test. Each operation gets `KEEL_FUZZ_EXAMPLES` valid and as many invalid
cases (small by default, so `make test` stays quick; `make fuzz` raises it).

Checks on every response: no status ≥ 500; the status code, content type, headers and body
are the ones the document promises for that operation; invalid input is refused with a 4xx.
After an accepted write, the caller's everyday reads must still answer (stored input must not
break later reads).

Every case runs in a savepoint that is rolled back, and the caches are emptied after it, so
the routes that would lock the fuzzer out — blocking its own IP, maintenance mode,
deactivating or deleting itself, revoking its own sessions, logout, password change, enabling
2FA — run for real and cannot affect the next case. No operation is excluded. Rate limits
are off for the run (`RATE_LIMIT_ENABLED`): a 429 would only hide what comes after it.

Invalid input the contract tolerates is not counted as accepted: out-of-range pagination and
flags (§0.8), any body on logout (§2), Idempotency-Key from anonymous callers (§0.10), and
text fields and flags read as DRF reads them (numbers as text, surrounding whitespace
trimmed; `yes`, `on`, `null`… for booleans).
"""

from __future__ import annotations

import logging
import os
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.fields import BooleanField
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from accounts.auth import services as account_services
from accounts.models import Role, User
from organizations import services as org_services
from organizations.access import OrgActor
from organizations.models import OrgRole
from security.services import ip_block_create
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.stripe_sandbox import sandbox_running

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("KEEL_FUZZ_EXAMPLES", "4"))
SEED = int(os.environ.get("KEEL_FUZZ_SEED", "20260101"))  # fixed by default: CI is repeatable
ROLES = os.environ.get("KEEL_FUZZ_ROLES", "user,owner,staff").split(",")
# KEEL_FUZZ_STRICT=1 also reports valid input that is refused (400): useful when tightening
# the schema's input rules, too strict for the suite (business rules refuse valid shapes).
STRICT = os.environ.get("KEEL_FUZZ_STRICT") == "1"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
] + ([positive_data_acceptance] if STRICT else [])

# Query parameters the contract tolerates: out of range or malformed → the default (§0.8),
# anything but true/1/yes → false. Generated invalid values for them are not refused.
LENIENT_QUERY = {"page", "limit", "per_page", "link", "verbose", "include_inactive"}
# Operations that accept any body by contract: logout never fails (§2).
LENIENT_BODY = {"POST /api/v1/auth/logout"}

READ_BACK = ["/api/v1/users/me", "/api/v1/users/me/activity", "/api/v1/organizations"]
STAFF_READ_BACK = ["/api/v1/admin/settings", "/api/v1/admin/audit-logs"]


# --- Who fuzzes, and what the path parameters should hit --------------------------------------


@dataclass
class Cast:
    role: str
    token: str
    path_values: dict[str, list[Any]]


def _cast(role: str) -> Cast:
    """A plain user (member of `acme`), its owner, or a super admin; `acme` has a key, a
    pending invitation and there is an IP block, so their routes can reach real rows."""
    owner = UserFactory(email="owner@example.com", name="Olive Owner")
    member = UserFactory(email="member@example.com", name="Mel Member")
    outsider = UserFactory(email="outsider@example.com", name="Otto Outsider")
    superadmin = UserFactory(email="root@example.com", name="Sam Super", role=Role.SUPER_ADMIN)
    org = OrganizationFactory(name="Acme", slug="acme", created_by=owner)
    MembershipFactory(organization=org, user=owner, role=OrgRole.OWNER)
    MembershipFactory(organization=org, user=member, role=OrgRole.MEMBER)
    owner_actor = OrgActor(organization=org, role=OrgRole.OWNER, user=owner)
    key, _ = org_services.api_key_create(actor=owner_actor, name="CI")
    invitation = org_services.invitation_create(
        actor=owner_actor, email="invitee@example.com", role=OrgRole.MEMBER
    )
    block = ip_block_create(actor=superadmin, ip_address="203.0.113.7", reason="fuzz")
    # `anonymous` (KEEL_FUZZ_ROLES=…,anonymous) signs in as the member but sends no token.
    actor: User = {"user": member, "owner": owner, "staff": superadmin, "anonymous": member}[role]
    meta = account_services.RequestMeta(ip="127.0.0.1", user_agent="schemathesis")
    sign_in = account_services.session_create(user=actor, meta=meta, method="password")
    return Cast(
        role=role,
        token="" if role == "anonymous" else sign_in.access.token,
        path_values={
            "slug": [org.slug],
            "user_id": [actor.pk, member.pk, owner.pk, outsider.pk],
            "key_id": [key.pk],
            "invitation_id": [invitation.pk],
            "block_id": [block.pk],
            "session_id": [sign_in.session.pk],
        },
    )


# --- Running the campaign ---------------------------------------------------------------------


@dataclass
class Campaign:
    """Runs cases and keeps the figures; failures are collected, not raised, so one run
    reports all of them."""

    cast: Cast
    app: Any
    cases: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    nonconforming: int = 0
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    failure_counts: Counter = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.cast.token}"} if self.cast.token else {}

    def run(self, case: Any) -> None:
        self.tracebacks.clear()
        with transaction.atomic():
            response = case.call(headers=self.headers)
            broken_reads = self._read_back(case, response)
            transaction.set_rollback(True)
        _reset_process_state()
        self.cases += 1
        self.statuses[response.status_code] += 1
        problems: list[tuple[str, str]] = []
        if response.status_code >= 500:
            self.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=self.headers)
        except FailureGroup as group:
            problems += [
                (_title(f), _describe(f, case, response))
                for f in group.exceptions
                if not (
                    isinstance(f, AcceptedNegativeData)
                    and _tolerated(case, anonymous=not self.cast.token)
                )
            ]
        if broken_reads:
            problems.append(("a read broken by this write", f"{broken_reads}"))
        self.nonconforming += bool(problems)
        for title, detail in problems:
            key = (case.operation.label, title)
            self.failure_counts[key] += 1
            if key not in self.failures:
                self.failures[key] = detail + "".join(f"\n{t}" for t in self.tracebacks[-1:])

    def _read_back(self, case: Any, response: Any) -> list[tuple[str, int]]:
        if case.method.upper() == "GET" or response.status_code >= 300:
            return []
        client = Client(self.app)
        paths = READ_BACK + (STAFF_READ_BACK if self.cast.role == "staff" else [])
        statuses = [(path, client.get(path, headers=self.headers).status_code) for path in paths]
        return [(path, status) for path, status in statuses if status >= 500]

    def report(self) -> str:
        lines = [
            f"role={self.cast.role} cases={self.cases} responses>=500={self.server_errors} "
            f"nonconforming={self.nonconforming} distinct_problems={len(self.failures)} "
            f"statuses={dict(sorted(self.statuses.items()))}"
        ]
        for (operation, title), detail in sorted(self.failures.items()):
            count = self.failure_counts[(operation, title)]
            lines.append(f"\n--- {operation}: {title} (×{count})\n{detail}")
        return "\n".join(lines)


def _tolerated(case: Any, *, anonymous: bool) -> bool:
    """Whether the only invalid parts of a negative case are ones the contract tolerates."""
    if case.operation.label in LENIENT_BODY:
        return True
    negative = {loc for loc, info in case.meta.components.items() if info.mode.is_negative}
    if negative == {ParameterLocation.HEADER}:
        # The one documented header is Idempotency-Key, ignored for anonymous callers (§0.10).
        return anonymous
    if negative == {ParameterLocation.QUERY}:
        return _lenient_query(case)
    if negative == {ParameterLocation.BODY}:
        return _valid_as_text_fields_read_it(case)
    return False


def _lenient_query(case: Any) -> bool:
    """Out-of-range or malformed pagination and flags read as the default (§0.8); an empty
    value of an optional parameter reads as absent (DRF's form semantics)."""
    query = case.query or {}
    for parameter in case.operation.query:
        if parameter.name in LENIENT_QUERY:
            continue
        if query.get(parameter.name, {}) in ({}, [], ""):  # absent, or empty on the wire
            if parameter.is_required:
                return False
            continue
        schema = parameter.definition.get("schema", {})
        value = _as_flag_reads(_as_text_field_reads(query[parameter.name], schema, case), schema)
        if not _valid(schema, value, case):
            return False
    return True


def _as_flag_reads(value: Any, schema: dict[str, Any]) -> Any:
    """DRF's boolean fields read the usual spellings (`1`, `yes`, `on`, `null`, …)."""
    if schema.get("type") != "boolean" or isinstance(value, bool):
        return value
    for spellings, meaning in (
        (BooleanField.TRUE_VALUES, True),
        (BooleanField.FALSE_VALUES, False),
        (BooleanField.NULL_VALUES, None),
    ):
        if isinstance(value, str | int | float) and value in spellings:
            return meaning
    return value


def _valid_as_text_fields_read_it(case: Any) -> bool:
    """A body that is valid once its text fields are read as DRF reads them."""
    if not isinstance(case.body, dict):
        return False
    raw = case.operation.definition.raw
    content = raw.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return False
    schema = _resolve(content["schema"], case)
    properties = schema.get("properties", {})
    read = {
        name: _as_text_field_reads(value, properties.get(name, {}), case)
        for name, value in case.body.items()
    }
    return read != case.body and _valid(schema, read, case)


def _as_text_field_reads(value: Any, schema: dict[str, Any], case: Any) -> Any:
    """DRF's text fields read a JSON number as its decimal text and trim surrounding
    whitespace before checking lengths (as most JSON APIs do; not a promise to refuse)."""
    if _resolve(schema, case).get("type") != "string":
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _resolve(schema: dict[str, Any], case: Any) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = case.operation.schema.raw_schema
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _valid(schema: dict[str, Any], value: Any, case: Any) -> bool:
    """JSON Schema validation of an OpenAPI 3.0 schema (`nullable`, local `$ref`s)."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {k: convert(v) for k, v in _resolve(node, case).items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node

    return jsonschema.Draft4Validator(convert(schema)).is_valid(value)


def _title(failure: Failure) -> str:
    return failure.title


def _describe(failure: Failure, case: Any, response: Any) -> str:
    body = response.content[:400].decode("utf-8", "replace")
    return (
        f"{failure.message}\n{case.as_curl_command(headers={'Authorization': 'Bearer …'})}\n"
        f"→ {response.status_code} {response.headers.get('content-type')} {body}"
    )


def _reset_process_state() -> None:
    """What a rolled-back case may have left outside the database."""
    from django.core.cache import cache

    from accounts.core import tokens
    from security import blocklist, counters, system_settings

    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    system_settings.invalidate_local()
    blocklist.reset_local()
    blocklist.discard_pending_hits()
    tokens.reset_local()
    counters.reset_local()


class _Tracebacks(logging.Handler):
    """Collects the tracebacks Keel logs for unexpected exceptions (shown with a 500)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.sink.append("".join(traceback.format_exception(*record.exc_info)))


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    """Keel's WSGI application, without the per-request connection recycling that would end
    the test's transaction (Django's test client disconnects it the same way)."""
    from config.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_settings(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.RATE_LIMIT_ENABLED = False
    for name in ("default", "private"):  # avatars and exports go to a throwaway directory
        settings.STORAGES = {
            **settings.STORAGES,
            name: {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / name)},
            },
        }
    with sandbox_running(settings):  # billing on, against the Stripe fake
        yield


def _load_schema(app: Any, cast: Cast) -> Any:
    loaded = schemathesis.openapi.from_wsgi(
        "/api/schema?format=json",
        app,
        config=schemathesis.Config.from_dict(
            {"generation": {"with-security-parameters": False, "database": "none"}}
        ),
    )

    @loaded.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        """Mostly the real organization, users, keys…; sometimes what was generated."""
        if not path_parameters:
            return st.just(path_parameters)
        method = context.operation.method.upper()
        drawn = {}
        for name, generated in path_parameters.items():
            real = cast.path_values.get(f"{name}:{method}") or cast.path_values.get(name)
            drawn[name] = st.sampled_from([generated, *real * 3]) if real else st.just(generated)
        return st.fixed_dictionaries(drawn)

    return loaded


@pytest.mark.parametrize("role", ROLES)
def test_the_api_keeps_the_promises_of_its_openapi_document(role, wsgi_app, fuzz_settings):
    cast = _cast(role)
    schema = _load_schema(wsgi_app, cast)
    campaign = Campaign(cast=cast, app=wsgi_app)
    handler = _Tracebacks(campaign.tracebacks)
    logging.getLogger("keel.errors").addHandler(handler)
    request_log = logging.getLogger("keel.request")
    request_log_level = request_log.level
    request_log.setLevel(logging.WARNING)  # one line per case would drown the report
    operations = 0
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):

                @seed(SEED)
                @settings(
                    max_examples=EXAMPLES,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def fuzz(case: Any) -> None:
                    campaign.run(case)

                try:
                    fuzz()
                except Unsatisfiable:  # nothing in this operation can be made invalid
                    assert mode is schemathesis.GenerationMode.NEGATIVE
    finally:
        logging.getLogger("keel.errors").removeHandler(handler)
        request_log.setLevel(request_log_level)
    print(f"\noperations={operations} " + campaign.report())
    assert operations >= 90
    if cast.token:  # the rollbacks held: nothing the cases did locked the fuzzer out
        me = Client(wsgi_app).get("/api/v1/auth/me", headers=campaign.headers)
        assert me.status_code == 200, me.get_data(as_text=True)
    assert not campaign.failures, campaign.report()
