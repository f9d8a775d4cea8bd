"""Structured request logs: one JSON line per request, secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest

from config.logging import REDACTED, ConsoleFormatter, JSONFormatter, RequestContextFilter, redact

pytestmark = pytest.mark.django_db


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "keel.request"]


def as_json(record: logging.LogRecord) -> dict:
    RequestContextFilter().filter(record)
    return json.loads(JSONFormatter().format(record))


@pytest.mark.urls("tests.platform_urls")
def test_it_logs_one_line_per_request_with_the_contract_fields(client, alice, caplog):
    client.force_login(alice)
    with caplog.at_level(logging.INFO, logger="keel.request"):
        client.get("/api/v1/_private", HTTP_X_REQUEST_ID="log-1", REMOTE_ADDR="198.51.100.7")
    (record,) = request_records(caplog)
    line = as_json(record)
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/_private"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == "log-1"
    assert line["user_id"] == alice.pk
    assert line["ip"] == "198.51.100.7"
    assert line["level"] == "info"


def test_it_labels_routes_by_pattern_not_by_raw_path(client, caplog):
    with caplog.at_level(logging.INFO, logger="keel.request"):
        client.get("/api/v1/users/12345/secret-path")
    (record,) = request_records(caplog)
    assert record.route == "<unmatched>"


def test_it_logs_health_probes_only_at_debug(client, caplog):
    with caplog.at_level(logging.INFO, logger="keel.request"):
        client.get("/health/live")
    assert request_records(caplog) == []


def test_it_redacts_secret_looking_fields():
    record = logging.makeLogRecord(
        {
            "msg": "login",
            "password": "hunter2",
            "payload": {"email": "a@b.c", "refresh_token": "abc", "nested": [{"api_key": "k"}]},
            "Authorization": "Bearer xyz",
        }
    )
    line = as_json(record)
    assert line["password"] == REDACTED
    assert line["Authorization"] == REDACTED
    assert line["payload"]["email"] == "a@b.c"
    assert line["payload"]["refresh_token"] == REDACTED
    assert line["payload"]["nested"][0]["api_key"] == REDACTED
    assert "hunter2" not in json.dumps(line)


def test_redact_masks_cookies_and_sessions():
    assert redact({"Cookie": "sessionid=1", "csrf_token": "x", "name": "ok"}) == {
        "Cookie": REDACTED,
        "csrf_token": REDACTED,
        "name": "ok",
    }


def test_the_console_format_is_readable_and_redacted():
    record = logging.makeLogRecord(
        {"msg": "hello", "name": "keel.test", "levelname": "INFO", "secret": "s3"}
    )
    record.request_id = "abcdef123456"
    text = ConsoleFormatter().format(record)
    assert "hello" in text and "[abcdef12]" in text and "s3" not in text
