"""Unhandled errors reach Sentry (with the request id) when SENTRY_DSN is set."""

from __future__ import annotations

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from config.sentry import init_sentry

pytestmark = [pytest.mark.urls("tests.platform_urls"), pytest.mark.django_db]


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    @property
    def events(self):
        return [
            item.payload.json
            for env in self.envelopes
            for item in env.items
            if item.type == "event"
        ]


@pytest.fixture
def sentry(settings):
    settings.SENTRY_DSN = "https://public@sentry.invalid/1"
    transport = CapturingTransport()
    init_sentry(dsn=settings.SENTRY_DSN, environment="test", release="t", traces_sample_rate=0.0)
    sentry_sdk.get_client().transport = transport
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # back to a disabled client


def test_an_unhandled_api_error_is_reported_with_the_request_id(api, sentry):
    api.get("/api/v1/_boom", HTTP_X_REQUEST_ID="sentry-1", HTTP_X_CSRF_TOKEN="do-not-send")
    sentry_sdk.flush()
    (event,) = [e for e in sentry.events if e.get("exception")]
    assert event["tags"]["request_id"] == "sentry-1"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert "do-not-send" not in str(event)


def test_expected_errors_are_not_reported(api, sentry):
    api.get("/api/v1/_error/not-found")
    api.get("/api/v1/does-not-exist")
    sentry_sdk.flush()
    assert [e for e in sentry.events if e.get("exception")] == []
