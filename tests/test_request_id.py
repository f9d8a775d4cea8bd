from __future__ import annotations

import json
import logging
import uuid

import pytest

from config.context import sanitize_request_id
from config.logging import JSONFormatter, RequestContextFilter

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value", ["abc", "A.b_c:d-1", "x" * 128, "9f1c2d3e-0000-4000-8000-000000000000"]
)
def test_it_adopts_sane_inbound_ids(api, value):
    assert api.get("/health/live", HTTP_X_REQUEST_ID=value)["X-Request-ID"] == value


@pytest.mark.parametrize(
    "value", ["", "x" * 129, "has space", "semi;colon", "new\nline", "ünïcode", "<script>"]
)
def test_it_replaces_unsafe_inbound_ids_with_a_uuid(api, value):
    echoed = api.get("/health/live", HTTP_X_REQUEST_ID=value)["X-Request-ID"]
    assert echoed != value
    assert uuid.UUID(echoed).version == 4


def test_it_mints_an_id_when_none_is_sent(api):
    first = api.get("/health/live")["X-Request-ID"]
    second = api.get("/health/live")["X-Request-ID"]
    assert first != second
    assert uuid.UUID(first)


def test_it_puts_the_request_id_in_every_log_line_of_the_request(api, caplog):
    with caplog.at_level(logging.INFO, logger="keel.request"):
        api.get("/api/v1/csrf-token", HTTP_X_REQUEST_ID="trace-me")
    record = next(r for r in caplog.records if r.name == "keel.request")
    RequestContextFilter().filter(record)
    assert json.loads(JSONFormatter().format(record))["request_id"] == "trace-me"


def test_sanitize_request_id_rejects_none():
    assert uuid.UUID(sanitize_request_id(None))
