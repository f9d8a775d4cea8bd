"""The test suite's settings: production's (`config.settings`, read from the environment as
always) with two test-only changes.

- Passwords are hashed with Argon2 at its smallest parameters (`tests.hashers`): with
  production's parameters hashing took about 85 % of the suite's CPU. Production's hasher
  still verifies these hashes (Argon2 keeps its parameters in the hash).
- Under pytest-xdist (`make test` runs two workers) each worker namespaces its Redis keys, so
  that one worker's cache reset or WebSocket group never reaches the other's. The prefixes go
  through the environment so that the servers an integration test starts use them too.
"""

from __future__ import annotations

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    os.environ.setdefault("CACHE_KEY_PREFIX", f"keel-test-{_worker}")
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"keel-test-{_worker}:asgi")

from config.settings import *  # noqa: E402, F403
from config.settings import PASSWORD_HASHERS as _PRODUCTION_HASHERS  # noqa: E402

PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher", *_PRODUCTION_HASHERS]

# dj-stripe's migrations take about 40 s on a fresh database (one of them rebuilds hundreds of
# fields). On SQLite the suite creates its tables straight from the models instead; PostgreSQL
# (CI) cannot (the tables are made before the accounts migrations their foreign keys need), so
# it runs the real migrations, as `make run` and production do.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    MIGRATION_MODULES = {"djstripe": None}

# Billing is off unless a test turns the Stripe fake on (tests/stripe_sandbox.py); a call that
# escapes the fake goes to a closed loopback port and fails at once instead of reaching out.
STRIPE_SECRET_KEY = ""
STRIPE_ENABLED = False
STRIPE_API_BASE = "http://127.0.0.1:9"
STRIPE_WEBHOOK_SECRETS: list[str] = []

# No background folding in the test processes: tests fold explicitly (usage.services.usage_fold).
USAGE_FLUSH_THREAD = False
