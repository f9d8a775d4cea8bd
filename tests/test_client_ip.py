from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory

from config.middleware.client_ip import ClientIPMiddleware
from config.net import resolve_client_ip

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: header ignored
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        (
            "10.0.0.5",
            "6.6.6.6, 1.2.3.4",
            "1.2.3.4",
        ),  # right-most untrusted wins, not the spoofable left
        ("10.0.0.5", "1.2.3.4, 10.0.0.7", "1.2.3.4"),  # skip trusted hops
        ("10.0.0.5", "10.0.0.8, 10.0.0.7", "10.0.0.8"),  # all trusted: the left-most
        ("10.0.0.5", "garbage, 1.2.3.4", "1.2.3.4"),
        ("10.0.0.5", "1.2.3.4, garbage", "10.0.0.5"),  # unparsable hop: stop at the proxy
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("::ffff:203.0.113.9", None, "203.0.113.9"),
        ("10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
        ("10.0.0.5", "1.2.3.4:5678", "1.2.3.4"),
    ],
)
def test_it_resolves_the_client_ip(peer, xff, expected):
    assert resolve_client_ip(peer, xff, PROXIES) == expected


def test_it_ignores_forwarded_for_without_trusted_proxies():
    assert resolve_client_ip("10.0.0.5", "1.2.3.4", []) == "10.0.0.5"


def test_the_middleware_reads_trusted_proxies_from_settings(settings):
    seen = {}

    def view(request):
        seen["ip"] = request.client_ip
        from django.http import HttpResponse

        return HttpResponse()

    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="198.51.100.4")
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    ClientIPMiddleware(view)(request)
    assert seen["ip"] == "198.51.100.4"
    settings.TRUSTED_PROXIES = []
    ClientIPMiddleware(view)(request)
    assert seen["ip"] == "10.1.2.3"
