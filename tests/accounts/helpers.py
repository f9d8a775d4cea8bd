"""Helpers shared by the accounts tests: links out of emails, TOTP codes, enrolled users."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlparse

from django.core import mail
from django.utils import timezone
from django_otp.oath import TOTP

from accounts.models import TOTPDevice, User
from security.crypto import encrypt

LINK = re.compile(r"https?://\S+")


def last_email_to(address: str) -> mail.EmailMessage:
    messages = [m for m in mail.outbox if address in m.to]
    assert messages, f"no email to {address}; outbox: {[m.subject for m in mail.outbox]}"
    return messages[-1]


def token_from_email(address: str, path: str) -> str:
    """The `token` query parameter of the first link to `path` in the latest email to address."""
    body = last_email_to(address).body
    for url in LINK.findall(body):
        parsed = urlparse(url)
        if parsed.path == path:
            return parse_qs(parsed.query)["token"][0]
    raise AssertionError(f"no {path} link in: {body}")


def totp_code(user: User, *, offset_steps: int = 0) -> str:
    """What the user's authenticator app shows now (+ offset steps of 30 s)."""
    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.secret, step=30, digits=6)
    totp.time = time.time() + offset_steps * 30
    return f"{totp.token():06d}"


def enrol(user: User) -> TOTPDevice:
    """A confirmed authenticator for `user`, as if set up through the API."""
    user.two_factor_enabled = True
    user.save(update_fields=["two_factor_enabled"])
    return TOTPDevice.objects.create(
        user=user,
        name="Authenticator app",
        confirmed=True,
        verified_at=timezone.now(),
        encrypted_secret=encrypt(secrets.token_bytes(20).hex()),
    )
