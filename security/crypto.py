"""Secrets at rest, in one place.

- `token_hash(token)`: HMAC-SHA-256 of a bearer secret (refresh tokens, API keys, reset and
  invitation tokens, backup codes) with a server key, hex encoded. Store only this; look a
  token up with `token_hash_candidates(token)` so that rotated keys keep working.
- `encrypt(text)` / `decrypt(token)`: authenticated encryption (Fernet: AES-128-CBC +
  HMAC-SHA-256) of small secrets such as TOTP seeds and OAuth tokens.
- `new_token(nbytes)`: a URL-safe random secret.

Keys come from settings.TOKEN_HASH_KEYS / settings.ENCRYPTION_KEYS (first = current); when
unset they are derived from SECRET_KEY. Rotation is described in docs/security.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """The ciphertext was not produced by any configured key (or was tampered with)."""


def _derive(purpose: str, secret: str) -> bytes:
    return hashlib.sha256(f"keel:{purpose}:{secret}".encode()).digest()


@cache
def _hash_keys(configured: tuple[str, ...], secret_key: str) -> tuple[bytes, ...]:
    if configured:
        return tuple(k.encode() for k in configured)
    return (_derive("token-hash", secret_key),)


@cache
def _fernet(configured: tuple[str, ...], secret_key: str) -> MultiFernet:
    keys = [k.encode() for k in configured] or [
        base64.urlsafe_b64encode(_derive("encryption", secret_key))
    ]
    return MultiFernet([Fernet(k) for k in keys])


def _current_hash_keys() -> tuple[bytes, ...]:
    return _hash_keys(tuple(settings.TOKEN_HASH_KEYS), settings.SECRET_KEY)


def token_hash(token: str) -> str:
    """Hash a bearer secret with the current key (what to store)."""
    return hmac.new(_current_hash_keys()[0], token.encode(), hashlib.sha256).hexdigest()


def token_hash_candidates(token: str) -> list[str]:
    """Hashes of `token` under every configured key (for lookups during key rotation)."""
    return [hmac.new(k, token.encode(), hashlib.sha256).hexdigest() for k in _current_hash_keys()]


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def encrypt(plaintext: str) -> str:
    return (
        _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)
        .encrypt(plaintext.encode())
        .decode()
    )


def decrypt(ciphertext: str) -> str:
    try:
        return (
            _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)
            .decrypt(ciphertext.encode())
            .decode()
        )
    except (InvalidToken, ValueError) as exc:
        raise DecryptionError("cannot decrypt: unknown key or tampered data") from exc


def reencrypt(ciphertext: str) -> str:
    """Re-encrypt with the current key (used when rotating ENCRYPTION_KEYS)."""
    return (
        _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)
        .rotate(ciphertext.encode())
        .decode()
    )


def generate_encryption_key() -> str:
    return Fernet.generate_key().decode()
