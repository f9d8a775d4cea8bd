from __future__ import annotations

import pytest

from security import crypto


def test_token_hashes_are_keyed_and_stable(settings):
    first = crypto.token_hash("abc")
    assert first == crypto.token_hash("abc")
    assert len(first) == 64 and first != crypto.token_hash("abd")
    settings.SECRET_KEY = "x" * 60  # a different server key gives a different hash
    assert crypto.token_hash("abc") != first


def test_rotated_hash_keys_still_find_old_tokens(settings):
    settings.TOKEN_HASH_KEYS = ["old-key"]
    stored = crypto.token_hash("abc")
    settings.TOKEN_HASH_KEYS = ["new-key", "old-key"]
    assert crypto.token_hash("abc") != stored
    assert stored in crypto.token_hash_candidates("abc")


def test_encryption_round_trips_and_is_not_plaintext():
    secret = "JBSWY3DPEHPK3PXP"
    token = crypto.encrypt(secret)
    assert secret not in token
    assert crypto.decrypt(token) == secret
    assert crypto.encrypt(secret) != token  # random IV


def test_tampered_or_foreign_ciphertexts_are_refused(settings):
    token = crypto.encrypt("s")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token[:-4] + "AAAA")
    settings.ENCRYPTION_KEYS = [crypto.generate_encryption_key()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


def test_encryption_keys_rotate(settings):
    old = crypto.generate_encryption_key()
    settings.ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("seed")
    new = crypto.generate_encryption_key()
    settings.ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "seed"
    rotated = crypto.reencrypt(token)
    settings.ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "seed"


def test_new_tokens_are_random_and_url_safe():
    tokens = {crypto.new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 43 and "/" not in t and "+" not in t for t in tokens)
