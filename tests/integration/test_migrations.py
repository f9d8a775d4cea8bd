"""The real migrations, dj-stripe's included, apply to an empty PostgreSQL database and match
the models. The rest of the suite creates dj-stripe's tables without its migrations (about 40 s
saved per test database; tests/settings.py), so this is where they are proven. CI only (it
needs PostgreSQL and takes about half a minute)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _admin_url() -> str:
    url = os.environ["DATABASE_URL"]
    return url.rsplit("/", 1)[0] + "/postgres"


def test_migrations_apply_to_an_empty_database_and_match_the_models(postgres_and_redis):
    name = f"keel_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",  # production's: real migrations for every app
        DATABASE_URL=os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}",
        KEEL_IGNORE_DOTENV="1",
    )
    try:
        for command in (["migrate", "--no-input"], ["makemigrations", "--check", "--dry-run"]):
            done = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
