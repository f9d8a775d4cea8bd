"""Settings come from the environment in one place and refuse unsafe production values."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(ROOT)),
        "KEEL_IGNORE_DOTENV": "1",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "keel.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    "weak", ["short", "changeme" * 10, "a" * 80, "django-insecure-" + "x1y2z3" * 10]
)
def test_production_refuses_a_weak_secret_key(tmp_path, weak):
    result = run_manage("check", **production_env(tmp_path, SECRET_KEY=weak))
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_an_unknown_environment_name_is_refused(tmp_path):
    result = run_manage("check", **production_env(tmp_path, ENVIRONMENT="prod"))
    assert result.returncode != 0
    assert "ENVIRONMENT must be" in result.stderr


def test_the_embedded_default_needs_no_environment(tmp_path):
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'],"
        " s.CHANNEL_LAYERS['default']['BACKEND'], 'orm' in s.Q_CLUSTER, s.EMAIL_BACKEND)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "channels.layers.InMemoryChannelLayer",
        "True",
        "django.core.mail.backends.console.EmailBackend",
    ]


def test_redis_url_switches_cache_channels_and_sessions(tmp_path):
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s;"
        "print(s.CACHES['default']['BACKEND'], s.CHANNEL_LAYERS['default']['BACKEND'], s.SESSION_ENGINE,"
        " 'orm' in s.Q_CLUSTER)",
        REDIS_URL="redis://127.0.0.1:6379/5",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django_redis.cache.RedisCache",
        "channels_redis.core.RedisChannelLayer",
        "accounts.sessions.cached_db",
        "True",
    ]


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("smtp://user:pw@mail.example.com:587", "django.core.mail.backends.smtp.EmailBackend"),
        ("filemail:///tmp/keel-mail", "django.core.mail.backends.filebased.EmailBackend"),
    ],
)
def test_email_url_selects_the_backend(url, backend):
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.EMAIL_BACKEND)",
        EMAIL_URL=url,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == backend


def test_filemail_writes_to_the_absolute_directory_of_the_url(tmp_path):
    mail_dir = tmp_path / "mail" / "keel"
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; from django.core.mail import send_mail;"
        "send_mail('Hi', 'Body', None, ['a@example.com']); print(s.EMAIL_FILE_PATH)",
        EMAIL_URL=f"filemail://{mail_dir}",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(mail_dir)
    assert len(list(mail_dir.iterdir())) == 1
    assert not (ROOT / str(mail_dir).lstrip("/")).exists()


def test_a_relative_filemail_directory_is_under_the_project():
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.EMAIL_FILE_PATH)",
        EMAIL_URL="filemail://var/test-mail",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(ROOT / "var" / "test-mail")


def test_production_cookies_are_secure(tmp_path):
    result = run_manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.DEBUG, s.LOG_FORMAT)",
        **production_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "31536000", "False", "json"]


def test_production_refuses_to_start_without_a_jwt_secret(tmp_path):
    env = production_env(tmp_path)
    del env["JWT_SECRET"]
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "JWT_SECRET must be set" in result.stderr


def test_production_refuses_a_weak_jwt_secret(tmp_path):
    result = run_manage("check", **production_env(tmp_path, JWT_SECRET="secret" * 8))
    assert result.returncode != 0
    assert "JWT_SECRET is too weak" in result.stderr


def test_production_hashes_passwords_with_argon2_and_the_tests_with_cheap_argon2():
    """The suite's fast hasher is a test-only prefix; production's first hasher is Django's
    Argon2 with its default parameters, and it verifies the test hashes."""
    import importlib

    from django.conf import settings
    from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password

    production = importlib.import_module("config.settings").PASSWORD_HASHERS
    assert production[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert ["tests.hashers.FastArgon2PasswordHasher", *production] == settings.PASSWORD_HASHERS
    encoded = make_password("S3cret-pass")
    assert encoded.startswith("argon2$argon2id$v=19$m=8,t=1,p=1$"), "the fast hasher is in effect"
    assert Argon2PasswordHasher().verify("S3cret-pass", encoded)
    assert check_password("S3cret-pass", encoded)


def _database_options(*argv: str) -> dict:
    """The default database's settings as a process started with `argv` sees them."""
    code = (
        "import json, sys; sys.argv = json.loads(sys.argv[1]); import config.settings as s;"
        "db = s.DATABASES['default'];"
        "print(json.dumps({'pool': db['OPTIONS'].get('pool'), 'age': db['CONN_MAX_AGE'],"
        " 'name': db['OPTIONS'].get('application_name')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(argv))],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "KEEL_IGNORE_DOTENV": "1",
            "DATABASE_URL": "postgres://keel@db.example.com:5432/keel",
            "WEB_THREADS": "6",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_web_processes_share_a_bounded_pool_and_the_forking_job_worker_has_none():
    web = _database_options("uvicorn", "config.asgi:application")
    assert web["age"] == 0 and web["name"] == "keel"
    assert web["pool"] == {"min_size": 2, "max_size": 8, "timeout": 10.0, "max_idle": 300}
    worker = _database_options("manage.py", "qcluster")
    assert worker["pool"] is None and worker["age"] == 60
