"""Keel settings: the only module that reads the environment.

Every variable is documented in docs/configuration.md and .env.example. With no
environment set, Keel runs on the *embedded default*: SQLite, local-memory cache,
django-q2's ORM broker and the in-memory channel layer.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from config import routes

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file() and not os.environ.get("KEEL_IGNORE_DOTENV"):
    env.read_env(str(BASE_DIR / ".env"))

# --- Environment and core ---------------------------------------------------------------------
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
if ENVIRONMENT not in {"development", "test", "staging", "production"}:
    raise ImproperlyConfigured("ENVIRONMENT must be development, test, staging or production")
IS_PRODUCTION = ENVIRONMENT in {"production", "staging"}
DEBUG = env.bool("DEBUG", default=ENVIRONMENT == "development")
VERSION = env.str("APP_VERSION", default="0.1.0")
BUILD_TIME = env.str("BUILD_TIME", default="")
GIT_COMMIT = env.str("GIT_COMMIT", default="")

_DEV_SECRET_KEY = "keel-development-only-secret-key-do-not-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
_WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "django-insecure", "development"}


def _is_weak(secret: str, minimum: int) -> bool:
    lowered = secret.lower()
    return (
        len(secret) < minimum
        or len(set(secret)) < 5
        or any(w in lowered for w in _WEAK_SECRETS)
        or lowered.startswith("keel-development")
    )


if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and _is_weak(SECRET_KEY, 50):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use at least 50 random characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

# Secrets at rest (security/crypto.py). First key signs/encrypts; all keys are accepted, so a
# key is rotated by putting the new one first and dropping the old one once nothing uses it.
# Defaults are derived from SECRET_KEY (so rotating SECRET_KEY also rotates them).
TOKEN_HASH_KEYS = env.list("TOKEN_HASH_KEYS", default=[])
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[]) + (
    [env.str("TOTP_ENCRYPTION_KEY")] if env.str("TOTP_ENCRYPTION_KEY", default="") else []
)

# Access tokens (contract §13.1): HS256 JWTs signed with JWT_SECRET (derived from SECRET_KEY in
# development; required, >= 32 characters and not a weak value when DEBUG is off).
JWT_SECRET = env.str("JWT_SECRET", default="")
if not JWT_SECRET:
    if not DEBUG:
        raise ImproperlyConfigured("JWT_SECRET must be set when DEBUG is off.")
    JWT_SECRET = "keel-development-jwt-" + SECRET_KEY
elif not DEBUG and _is_weak(JWT_SECRET, 32):
    raise ImproperlyConfigured("JWT_SECRET is too weak: use at least 32 random characters.")
ACCESS_TOKEN_EXPIRATION_MINUTES = env.int("ACCESS_TOKEN_EXPIRATION_MINUTES", default=15)
REFRESH_REUSE_GRACE_SECONDS = env.int("REFRESH_REUSE_GRACE_SECONDS", default=10)
TOKEN_BLACKLIST_FAIL_MODE = env.str("TOKEN_BLACKLIST_FAIL_MODE", default="closed")
# Keel's own email-verification mode (contract §13.1): optional | mandatory | none. Stored under
# another name because allauth owns the ACCOUNT_EMAIL_VERIFICATION setting (set to "none" below:
# Keel sends and checks its own hashed tokens).
EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional").lower()
if EMAIL_VERIFICATION not in {"optional", "mandatory", "none"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be optional, mandatory or none")
EMAIL_VERIFICATION_TOKEN_HOURS = 24
PASSWORD_RESET_TOKEN_HOURS = 1
TOTP_ISSUER = env.str("TOTP_ISSUER", default="")  # empty: the `site_name` system setting

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
FRONTEND_URL = env.str("FRONTEND_URL", default=SITE_URL).rstrip("/")

# --- Applications -----------------------------------------------------------------------------
INSTALLED_APPS = [
    "config.apps.KeelAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "channels",
    "django_q",
    "django_prometheus",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "django_otp",
    "djstripe",
    # Keel
    "config.apps.PlatformConfig",
    "security.apps.SecurityConfig",
    "accounts.apps.AccountsConfig",
    "organizations.apps.OrganizationsConfig",
    "billing.apps.BillingConfig",
    "usage.apps.UsageConfig",
]

# Order is the contract's pipeline (§0.13); see docs/architecture.md.
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "config.middleware.request_id.RequestIDMiddleware",
    "config.middleware.client_ip.ClientIPMiddleware",
    "config.middleware.logging.RequestLogMiddleware",
    "config.middleware.recovery.RecoveryMiddleware",
    "security.middleware.IPBlocklistMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.security_headers.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "security.middleware.IPRateLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.body_limit.BodyLimitMiddleware",
    "config.middleware.input_guard.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.auth.middleware.PageImpersonationMiddleware",
    "security.middleware.MaintenanceMiddleware",
    "config.middleware.csrf.KeelCsrfMiddleware",
    "security.middleware.RouteRateLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.cache_headers.CacheHeadersMiddleware",
    "usage.middleware.UsageMeteringMiddleware",
    "usage.middleware.UsageEnforcementMiddleware",
    "security.middleware.IdempotencyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.keel",
                "accounts.auth.context_processors.impersonation",
                "organizations.context_processors.org_switcher",
                "billing.context_processors.billing_alerts",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
# `manage.py qcluster`: the job worker (django-q2), which forks.
_JOB_WORKER = sys.argv[1:2] == ["qcluster"]
# Requests one web process runs at once (config/asgi.py: a thread each, one database connection
# each at most); more wait in line. WebSockets are not counted: they live on the event loop.
WEB_THREADS = env.int("WEB_THREADS", default=8)

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'keel.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web server and the worker share the file.
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file (not shared-cache memory) so that tests with real concurrent requests get WAL and
    # the busy timeout instead of "database table is locked".
    _db.setdefault("TEST", {}).setdefault("NAME", str(VAR_DIR / "test.sqlite3"))
elif env.bool("DB_POOL", default=True) and not _JOB_WORKER:
    # Under ASGI every request ran in a thread of its own: persistent per-thread connections
    # piled up to PostgreSQL's max_connections. A psycopg pool per process bounds them
    # (docs/configuration.md has the max_connections arithmetic); Django returns the
    # connection to the pool when the request ends (CONN_MAX_AGE must be 0).
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        # the web threads, plus the WebSocket consumers' and health probes' lookups
        "max_size": env.int("DB_POOL_MAX_SIZE", default=WEB_THREADS + 2),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),  # waiting for a free connection
        "max_idle": 300,
    }
else:
    # DB_POOL=false (e.g. behind PgBouncer), and always the job worker: django-q2 forks its
    # workers after closing connections, which a pool would keep open inside it (and a forked
    # copy of a pool has sockets it shares with its parent and none of its threads).
    # One persistent connection per thread.
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
if _db["ENGINE"] != "django.db.backends.sqlite3":
    # A connection is checked before use (a pooled one as the pool hands it out).
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    # How Keel's connections are named in pg_stat_activity.
    _db["OPTIONS"]["application_name"] = env.str("DB_APPLICATION_NAME", default="keel")
DATABASES["default"]["ATOMIC_REQUESTS"] = False

# --- Cache, channel layer, job broker ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="keel"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # One pool per process, bounded like the database's: a request that finds
                # every connection busy waits up to 2 s, then counts as a cache miss.
                "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": env.int("REDIS_POOL_MAX_SIZE", default=WEB_THREADS + 4),
                    "timeout": 2,
                },
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # The cache is an accelerator: when Redis is down, fall through to the database.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default 5 s socket timeout equals channels-redis's blocking read:
                # idle sockets would crash; give the read room.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="keel:asgi"),
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    SESSION_ENGINE = "accounts.sessions.cached_db"  # keeps session rows bound (accounts)
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "keel"}
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    SESSION_ENGINE = "accounts.sessions.db"
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# django-q2: the ORM broker is the default everywhere because it survives restarts and
# re-delivers a task whose worker died (ack + retry). `Q_BROKER=redis` trades that for speed.
Q_BROKER = env.str("Q_BROKER", default="orm")
Q_CLUSTER: dict[str, object] = {
    "name": "keel",
    "workers": env.int("Q_WORKERS", default=2),
    "recycle": 500,
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 1000,
    "queue_limit": 50,
    "catch_up": False,
    "label": "Jobs",
    "poll": 1,
}
if Q_BROKER == "redis" and REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if REDIS_URL:
    Q_CLUSTER["cache"] = "default"
WORKER_HEARTBEAT_MAX_AGE_SECONDS = 120

# --- Authentication and passwords -------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The password policy is read from system settings at runtime (contract §13.4).
AUTH_PASSWORD_VALIDATORS = [{"NAME": "accounts.core.validators.PasswordPolicyValidator"}]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# Browser sign-in pages are django-allauth's, wired to Keel's services by accounts/adapters.py:
# Keel's login rules (lockout, history, 2FA stage, session rows), Keel's hashed email tokens and
# email jobs. Keel's own route tiers rate-limit the pages, so allauth's limits are off.
ACCOUNT_ADAPTER = "accounts.auth.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.auth.adapters.SocialAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.auth.signup_forms.SignupExtraForm"
ACCOUNT_FORMS = {"reset_password": "accounts.auth.forms.ResetPasswordForm"}
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_RATE_LIMITS = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if IS_PRODUCTION else "http"
SOCIALACCOUNT_STORE_TOKENS = False  # Keel needs only the identity; nothing to encrypt at rest
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # linking by email is Keel's rule (adapters.py)
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {
    "google": {"SCOPE": ["openid", "email", "profile"], "OAUTH_PKCE_ENABLED": True},
    "github": {"SCOPE": ["read:user", "user:email"]},
}
# OAuth apps come from the environment (or SocialApp rows in the Django admin).
for _provider in ("google", "github"):
    _id = env.str(f"{_provider.upper()}_CLIENT_ID", default="")
    if _id:
        SOCIALACCOUNT_PROVIDERS[_provider]["APPS"] = [
            {"client_id": _id, "secret": env.str(f"{_provider.upper()}_CLIENT_SECRET", default="")}
        ]

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Never served by any URL: GDPR exports are streamed to their owner by Keel (contract §3.6).
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": str(env.path("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private")))
        },
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# MEDIA_STORAGE=s3 keeps avatars and exports in an S3-compatible bucket (django-storages; install
# the `s3` extra). Nothing there is public: Keel streams files to whoever may see them.
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE == "s3":
    _s3 = {
        "bucket_name": env.str("S3_BUCKET"),
        "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
        "region_name": env.str("S3_REGION", default="") or None,
        "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
        "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "location": "media"},
    }
    STORAGES["private"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {**_s3, "location": "private"},
    }
elif MEDIA_STORAGE != "local":
    raise ImproperlyConfigured("MEDIA_STORAGE must be local or s3")
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Email ------------------------------------------------------------------------------------


def _email_config(url: str) -> dict[str, object]:
    """django-environ's email settings, except the `filemail://` directory: environ drops the
    leading slash of `filemail:///var/mail` (a relative `var/mail` under the working directory);
    here the URL's host and path are the directory, absolute as written, or relative to the
    project (`filemail://var/mail`); `filemail://` alone is `var/mail`."""
    config = env.email_url_config(url)
    if url.startswith("filemail:"):
        parts = urlsplit(url)
        written = unquote(parts.netloc + parts.path)
        directory = BASE_DIR / written if written else VAR_DIR / "mail"
        config["EMAIL_FILE_PATH"] = os.path.normpath(directory)
    return config


EMAIL_CONFIG = _email_config(env.str("EMAIL_URL", default="consolemail://"))
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Keel <noreply@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- HTTP security ----------------------------------------------------------------------------
TRUSTED_PROXIES = [
    ipaddress.ip_network(cidr.strip(), strict=False)
    for cidr in env.list(
        "TRUSTED_PROXIES", default=env.list("RATE_LIMIT_TRUSTED_PROXIES", default=[])
    )
    if cidr.strip()
]
_https_from_proxy = env.bool("TRUST_X_FORWARDED_PROTO", default=bool(TRUSTED_PROXIES))
if _https_from_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
SECURE_REDIRECT_EXEMPT = routes.redirect_exempt()  # probes of health and metrics over HTTP
SECURITY_HSTS_ENABLED = env.bool("SECURITY_HSTS_ENABLED", default=IS_PRODUCTION)
SECURE_HSTS_SECONDS = 31_536_000 if SECURITY_HSTS_ENABLED else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURITY_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str(
    "SECURITY_REFERRER_POLICY", default="strict-origin-when-cross-origin"
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = env.str("SECURITY_FRAME_OPTIONS", default="DENY")
SECURITY_HEADERS_ENABLED = env.bool("SECURITY_HEADERS_ENABLED", default=True)
SECURITY_CSP = env.str(
    "SECURITY_CSP",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: https:; font-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
)
SECURITY_PERMISSIONS_POLICY = env.str(
    "SECURITY_PERMISSIONS_POLICY", default="camera=(), microphone=(), geolocation=(), payment=()"
)
# - W003: CSRF is enforced by KeelCsrfMiddleware, a subclass of Django's CsrfViewMiddleware;
#   Django's check looks for the exact class path. config.checks verifies ours is installed.
# - W021: the contract's HSTS value has no `preload`; operators opt in with SECURITY_HSTS_PRELOAD.
SILENCED_SYSTEM_CHECKS = ["security.W003"] + ([] if SECURE_HSTS_PRELOAD else ["security.W021"])

COOKIE_SECURE = env.bool("COOKIE_SECURE", default=IS_PRODUCTION)
COOKIE_SAMESITE = env.str("COOKIE_SAMESITE", default="Lax")
COOKIE_DOMAIN = env.str("COOKIE_DOMAIN", default="") or None
SESSION_COOKIE_SECURE = COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = COOKIE_SAMESITE
SESSION_COOKIE_DOMAIN = COOKIE_DOMAIN

CORS_ALLOWED_ORIGINS = [o.rstrip("/") for o in env.list("CORS_ALLOWED_ORIGINS", default=[]) if o]
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "x-csrf-token",
    "x-requested-with",
    "x-request-id",
    "origin",
    "idempotency-key",
    "x-api-key",
]
CORS_EXPOSE_HEADERS = [
    "Link",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Idempotent-Replayed",
]
CORS_PREFLIGHT_MAX_AGE = 300

# CSRF: double-submit cookie `csrf_token` + header `X-CSRF-Token` (contract §0.5).
CSRF_COOKIE_NAME = "csrf_token"
CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"
CSRF_COOKIE_HTTPONLY = False
CSRF_COOKIE_AGE = 86_400
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SECURE = COOKIE_SECURE
CSRF_COOKIE_DOMAIN = env.str("CSRF_COOKIE_DOMAIN", default="") or None
CSRF_TRUSTED_ORIGINS = sorted(
    {o.rstrip("/") for o in env.list("CSRF_TRUSTED_ORIGINS", default=[]) if o}
    | set(CORS_ALLOWED_ORIGINS)
    | {SITE_URL}
)
CSRF_FAILURE_VIEW = "config.errors.csrf_failure"

# Request bodies (contract §0.11); Keel's BodyLimitMiddleware enforces per-route limits.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
MAX_FILE_SIZE_MB = env.int("MAX_FILE_SIZE_MB", default=10)
DATA_UPLOAD_MAX_MEMORY_SIZE = None
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
# Per-minute limits of the tiers without a system setting (contract §0.9).
RATE_LIMIT_IP_PER_MINUTE = env.int("RATE_LIMIT_IP_PER_MINUTE", default=600)
RATE_LIMIT_AUTH_PER_MINUTE = env.int("RATE_LIMIT_AUTH_PER_MINUTE", default=20)
RATE_LIMIT_USER_PER_MINUTE = env.int("RATE_LIMIT_USER_PER_MINUTE", default=300)
# Who a request is for rate limits and idempotency keys; accounts/organizations add JWT and
# API-key resolvers in front of the session one.
PRINCIPAL_RESOLVERS = [
    "organizations.authentication.api_key_principal",
    "accounts.auth.authentication.jwt_principal",
    "security.principal.session_principal",
]
# Run when a web process stops (config/shutdown.py): write what is still only in memory.
SHUTDOWN_HOOKS = ["security.blocklist.flush_hits", "usage.services.usage_fold"]
# Hooks that let the lower layers (config, security) call into the domains without importing
# them (docs/architecture.md, "Layers and hooks").
# Read a runtime setting (contract §13.9): (key) -> value.
RUNTIME_SETTING_READER = "security.system_settings.get_setting"
# Refuse a WebSocket before authentication: (scope) -> (status, code, message) | None.
WS_CONNECT_GUARDS = ["security.middleware.socket_guard"]
# Refuse staff tools to a staff member: (user) -> config.permissions.StaffRefusal | None.
STAFF_ACCESS_CHECKS = ["accounts.auth.permissions.two_factor_required"]
# Refuse a session-authenticated API user: (request, user) -> None or raise.
AUTHENTICATED_USER_CHECKS = ["accounts.auth.authentication.require_verified_email"]
# The user ids an organization's events reach: (organization_id=, roles=) -> ids.
REALTIME_ORG_MEMBERS = "organizations.selectors.organization_member_ids"
# The organizations whose events a user's sockets receive: (user_id=) -> ids.
REALTIME_MEMBER_ORGS = "organizations.selectors.member_organization_ids"
# Domains that take part in an account's lifecycle (accounts/lifecycle.py): GDPR export
# sections, deletion blockers, the purge, staff stats.
ACCOUNT_LIFECYCLE_PARTICIPANTS = [
    "organizations.lifecycle.OrganizationsLifecycle",
    "billing.lifecycle.BillingLifecycle",
    "usage.lifecycle.UsageLifecycle",
]
# Seats of a plan, from billing's plan catalogue: (plan) -> int (0 = unlimited).
ORGANIZATION_SEAT_LIMIT = "billing.plans.seat_limit"
# A usage scope's plan and limits, from billing's entitlements:
# (user_id=, organization_id=) -> (plan, {total key: limit}).
USAGE_PLAN_LIMITS = "billing.entitlements.usage_plan_limits"
# Told after the commit when an organization's memberships change: (organization_id=) -> None.
ORGANIZATION_MEMBERS_CHANGED = ["billing.seats.organization_members_changed"]

CACHE_HEADERS_ENABLED = env.bool("CACHE_HEADERS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.authentication.JWTAuthentication",
        "organizations.authentication.APIKeyAuthentication",
        "config.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "config.parsers.FormParser",
        "config.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_METADATA_CLASS": "config.viewsets.PlainMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Keel API",
    "DESCRIPTION": (
        "REST API of Keel. Every route answers under `/api/v1` and the `/api` alias. "
        "Errors use one envelope: `{error, message, code, request_id, details?}`."
    ),
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["config.openapi.keep_canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_envelope",
    ],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # PATCH bodies are what each view declares (Keel's views never make DRF's partial copy).
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": ["healthy", "degraded", "unhealthy"],
        "UserRoleEnum": "accounts.models.Role",
        "OrgRoleEnum": "organizations.models.OrgRole",
        "GrantableOrgRoleEnum": ["admin", "member"],
        "PlanEnum": "organizations.models.Plan",
        "PaidPlanEnum": ["pro", "enterprise"],
    },
}

# --- Billing (Stripe through dj-stripe; docs/billing.md) -------------------------------------
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# Billing is on when a secret key is set, unless switched off (contract §5).
STRIPE_ENABLED = bool(STRIPE_SECRET_KEY) and env.bool("STRIPE_ENABLED", default=True)
STRIPE_LIVE_MODE = STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))
# The signing secrets of Stripe's webhook deliveries (several while rotating).
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRET", default=[])
STRIPE_WEBHOOK_TOLERANCE = 300
# Where the stripe library sends its calls: Stripe, stripe-mock, or `manage.py stripe_sandbox`.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com").rstrip("/")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# Prices → plans (contract §5.4); the legacy single names are added.
STRIPE_PRO_PRICE_IDS = env.list("STRIPE_PRO_PRICE_IDS", default=[]) + env.list(
    "STRIPE_PREMIUM_PRICE_ID", default=[]
)
STRIPE_ENTERPRISE_PRICE_IDS = env.list("STRIPE_ENTERPRISE_PRICE_IDS", default=[]) + env.list(
    "STRIPE_ENTERPRISE_PRICE_ID", default=[]
)
# Prices billed per seat: an org subscription's quantity follows its active member count.
STRIPE_PER_SEAT_PRICE_IDS = env.list("STRIPE_PER_SEAT_PRICE_IDS", default=[])
# Free trial days per plan, passed to Checkout (0: none).
STRIPE_TRIAL_DAYS_PRO = env.int("STRIPE_TRIAL_DAYS_PRO", default=0)
STRIPE_TRIAL_DAYS_ENTERPRISE = env.int("STRIPE_TRIAL_DAYS_ENTERPRISE", default=0)
STRIPE_ALLOW_PROMOTION_CODES = env.bool("STRIPE_ALLOW_PROMOTION_CODES", default=False)
STRIPE_AUTOMATIC_TAX = env.bool("STRIPE_AUTOMATIC_TAX", default=False)
STRIPE_SUCCESS_URL = env.str("STRIPE_SUCCESS_URL", default=f"{FRONTEND_URL}/billing/success")
STRIPE_CANCEL_URL = env.str("STRIPE_CANCEL_URL", default=f"{FRONTEND_URL}/billing/cancel")
STRIPE_PORTAL_RETURN_URL = env.str("STRIPE_PORTAL_RETURN_URL", default=f"{FRONTEND_URL}/billing")
# dj-stripe: foreign keys by Stripe id; Keel verifies webhooks itself (billing/webhooks.py).
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"

# --- Usage metering (docs/usage.md) ----------------------------------------------------------
# How often a web process folds its in-memory API-call counts (no REDIS_URL), in seconds.
USAGE_FLUSH_SECONDS = env.int("USAGE_FLUSH_SECONDS", default=60)
USAGE_FLUSH_THREAD = env.bool("USAGE_FLUSH_THREAD", default=True)
# Told after the commit of each new usage alert: (alert=) -> None (the notifications app).
USAGE_ALERT_LISTENERS: list[str] = []

# --- Real-time --------------------------------------------------------------------------------
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", default=20)
WS_MAX_FRAME_BYTES = 64 * 1024
# Tried in order; the accounts app puts its JWT authenticator (cookie, Bearer, ?token=) first.
WS_AUTHENTICATORS = ["accounts.auth.ws.jwt_authenticator", "config.ws_auth.session_authenticator"]

# --- Observability ----------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JSONFormatter"},
        "console": {"()": "config.logging.ConsoleFormatter"},
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "console"} else "json",
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["default"], "level": LOG_LEVEL},
    "loggers": {
        # Keel's request log replaces Django's and the server's access logs.
        "django.request": {"level": "CRITICAL", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
        "uvicorn.access": {"level": "WARNING", "propagate": True},
        "django.db.backends": {"level": "INFO", "propagate": True},
        "django-q": {"level": env.str("Q_LOG_LEVEL", default="WARNING"), "propagate": True},
    },
}

SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=ENVIRONMENT,
        release=GIT_COMMIT or VERSION,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Demo data --------------------------------------------------------------------------------
SEED_ADMIN_PASSWORD = env.str("SEED_ADMIN_PASSWORD", default="Admin123!")
SEED_DEFAULT_PASSWORD = env.str("SEED_DEFAULT_PASSWORD", default="User123!")
