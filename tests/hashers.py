"""The test suite's password hasher: real Argon2 with the smallest parameters.

Production keeps Django's Argon2 defaults (`config.settings.PASSWORD_HASHERS`). The hashes made
here are ordinary `argon2$…` hashes that production's hasher verifies (argon2 stores its
parameters in the hash), so servers started by the integration tests sign these users in too.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: argon2's minimum for one lane
    parallelism = 1
