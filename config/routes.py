"""The route-policy table: every path rule of the request pipeline, named once.

CSRF, body limits, rate-limit tiers, the IP blocklist, maintenance mode, email verification,
cache headers, request logs and the error renderer all ask a group here whether a path belongs
to it; none keeps a regex of its own. Adding a public route means adding it to the groups it
belongs to, in this file, and `tests/test_routes.py` proves that every URL pattern falls in the
groups it should. Groups and their readers are listed in docs/architecture.md.

Paths are matched from their start (`re.match`). `API` is the canonical `/api/v1` and the
`/api` alias at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

API = r"/api(?:/v1)?"  # the API prefix: canonical /api/v1 and the alias /api
SAFE_METHODS = frozenset({"GET", "HEAD"})


def api(rest: str) -> str:
    """A pattern for `rest` under both API prefixes."""
    return "^" + API + rest


class RouteGroup:
    """A named set of paths: its patterns, those of its `parts`, minus the paths of the groups
    it is `excluding`; `safe_only` patterns count only for GET/HEAD."""

    def __init__(
        self,
        name: str,
        *patterns: str,
        safe_only: Iterable[str] = (),
        parts: Iterable[RouteGroup] = (),
        excluding: Iterable[RouteGroup] = (),
    ) -> None:
        self.name = name
        parts = tuple(parts)
        self.patterns: tuple[str, ...] = patterns + tuple(p for g in parts for p in g.patterns)
        self.safe_patterns: tuple[str, ...] = tuple(safe_only) + tuple(
            p for g in parts for p in g.safe_patterns
        )
        self._any = re.compile("|".join(f"(?:{p})" for p in self.patterns) or "(?!)")
        self._safe = re.compile("|".join(f"(?:{p})" for p in self.safe_patterns) or "(?!)")
        self.excluding = tuple(excluding)

    def matches(self, path: str, method: str | None = None) -> bool:
        """Whether `path` is in the group; patterns given as `safe_only` count for GET/HEAD
        (and when no method is given)."""
        if any(group.matches(path, method) for group in self.excluding):
            return False
        if self._any.match(path):
            return True
        return (method is None or method in SAFE_METHODS) and self._safe.match(path) is not None

    def __repr__(self) -> str:
        return f"RouteGroup({self.name!r})"


# --- Kinds of routes --------------------------------------------------------------------------
API_ROUTES = RouteGroup("api", r"^/api(?:/|$)")
HEALTH = RouteGroup("health", r"^/health(?:/|$)", api(r"/health(?:/|$)"))
METRICS = RouteGroup("metrics", r"^/metrics$")
WEBSOCKET = RouteGroup("websocket", r"^/ws$")
STATIC = RouteGroup("static", r"^/(?:static|media)/", r"^/favicon\.ico$")
API_DOCS = RouteGroup("api_docs", r"^/api/docs(?:/|$)")
STRIPE_WEBHOOK_ROUTE = "/webhooks/stripe"  # where Stripe delivers (contract §5.2)
STRIPE_WEBHOOK_PATH = "/api/v1" + STRIPE_WEBHOOK_ROUTE  # the canonical path, for senders
STRIPE_WEBHOOK = RouteGroup("stripe_webhook", api(re.escape(STRIPE_WEBHOOK_ROUTE) + "$"))
FILE_UPLOAD = RouteGroup("file_upload", api(r"/files/upload$"))
AVATAR_UPLOAD = RouteGroup(
    "avatar_upload", api(r"/users/me/avatar$"), r"^/settings/profile/avatar$"
)
ORG_SCOPED = RouteGroup("org_scoped", api(r"/organizations/(?P<slug>[^/]+)(?:/|$)"))

# --- Groups the pipeline reads ----------------------------------------------------------------
# Errors are the JSON envelope here, never an HTML page.
JSON_ERRORS = RouteGroup("json_errors", parts=(API_ROUTES, HEALTH, METRICS, WEBSOCKET))
# Operations endpoints: no IP blocklist, no maintenance, quiet request logs.
OPERATIONS = RouteGroup("operations", parts=(HEALTH, METRICS))
QUIET_LOGS = RouteGroup("quiet_logs", parts=(OPERATIONS, STATIC))
# No rate limit at all (the Stripe webhook is signed and retried by Stripe).
UNTHROTTLED = RouteGroup("unthrottled", parts=(OPERATIONS, STATIC, STRIPE_WEBHOOK))
# No CSRF check (signed webhook) / no CSRF cookie handed out (machines, not browsers).
CSRF_EXEMPT = RouteGroup("csrf_exempt", parts=(STRIPE_WEBHOOK,))
NO_CSRF_COOKIE = RouteGroup("no_csrf_cookie", parts=(OPERATIONS, STATIC, WEBSOCKET))
# Idempotency keys are honoured on the API, except on the webhook (Stripe de-duplicates).
IDEMPOTENT = RouteGroup("idempotent", r"^/api/", excluding=(STRIPE_WEBHOOK,))
# Open while `maintenance_mode` is on (contract §0.12), besides staff everywhere.
MAINTENANCE_OPEN = RouteGroup(
    "maintenance_open",
    r"^/admin/",
    r"^/accounts/(?:login|2fa|logout)/",
    api(r"/(?:csrf-token|changelog|billing/config)$"),
    api(r"/auth/"),
    safe_only=(api(r"/announcements$"),),
    parts=(OPERATIONS, STATIC, STRIPE_WEBHOOK),
)
# Reachable by unverified users under ACCOUNT_EMAIL_VERIFICATION=mandatory (contract §13.1).
VERIFICATION_EXEMPT = RouteGroup(
    "verification_exempt",
    api(r"/auth/"),
    api(r"/csrf-token$"),
    safe_only=(api(r"/users/me$"),),
    parts=(HEALTH,),
)

# Each authenticated request here counts one `api_call` (contract §6.3); not health, the webhook,
# the CSRF token or the usage routes themselves.
METERED = RouteGroup(
    "metered",
    r"^/api/",
    excluding=(
        OPERATIONS,
        STRIPE_WEBHOOK,
        RouteGroup(
            "unmetered", api(r"/csrf-token$"), api(r"(?:/organizations/[^/]+)?/usage(?:/|$)")
        ),
    ),
)

# Refused over plan limits when `usage_enforcement` is on (contract §6.5): the metered routes
# but sign-in and billing (a user over a limit can still sign in and upgrade).
ENFORCED = RouteGroup(
    "enforced",
    r"^/api/",
    excluding=(
        *METERED.excluding,
        RouteGroup(
            "enforcement_open", api(r"/auth/"), api(r"(?:/organizations/[^/]+)?/billing(?:/|$)")
        ),
    ),
)

# Rate-limit tiers (contract §0.9); `ip` covers everything not UNTHROTTLED.
AUTH_TIER = RouteGroup(
    "tier_auth",
    api(r"/auth/(?:register$|login$|token$|reset-password|verify-email|oauth/|(?:google|github)$)"),
    r"^/accounts/(?:login|signup|password/reset|2fa)/",
    r"^/(?:reset-password|verify-email)$",
)
LOGIN_TIER = RouteGroup("tier_login", api(r"/auth/(?:login|token)$"), r"^/accounts/login/$")
REGISTER_TIER = RouteGroup("tier_register", api(r"/auth/register$"), r"^/accounts/signup/$")
API_TIER = RouteGroup(
    "tier_api",
    api(r"/users(?!/me(?:/|$))(?:/|$)"),
    api(r"/(?:files|organizations|invitations|billing|admin)(?:/|$)"),
    api(r"/auth/(?:refresh|token/refresh|logout)$"),
)
USER_TIER = RouteGroup(
    "tier_user",
    api(r"/(?:auth/me|users/me|feature-flags|changelog|csrf-token)$"),
    api(r"/(?:users/me|usage|notifications|announcements)(?:/|$)"),
)

# Cache-Control on GET/HEAD (contract §13.6): the first matching group wins.
CACHE_PUBLIC_SHORT = RouteGroup("cache_health", parts=(HEALTH,))
CACHE_CHANGELOG = RouteGroup("cache_changelog", api(r"/changelog(?:/|$)"))
CACHE_NO_STORE = RouteGroup("cache_no_store", api(r"/(?:admin|auth)/"))
CACHE_FILE_LINKS = RouteGroup("cache_file_links", api(r"/files/[^/]+/(?:download|url)$"))
CACHE_PRIVATE = RouteGroup("cache_private", api(r"/"))

GROUPS: tuple[RouteGroup, ...] = (
    API_ROUTES, HEALTH, METRICS, WEBSOCKET, STATIC, API_DOCS, STRIPE_WEBHOOK, FILE_UPLOAD,
    AVATAR_UPLOAD, ORG_SCOPED, METERED, ENFORCED, JSON_ERRORS, OPERATIONS, QUIET_LOGS, UNTHROTTLED,
    CSRF_EXEMPT, NO_CSRF_COOKIE, IDEMPOTENT, MAINTENANCE_OPEN, VERIFICATION_EXEMPT, AUTH_TIER,
    LOGIN_TIER, REGISTER_TIER, API_TIER, USER_TIER, CACHE_PUBLIC_SHORT, CACHE_CHANGELOG,
    CACHE_NO_STORE, CACHE_FILE_LINKS, CACHE_PRIVATE,
)  # fmt: skip


def groups_of(path: str, method: str | None = None) -> set[str]:
    """Names of the groups `path` belongs to (for tests and debugging)."""
    return {group.name for group in GROUPS if group.matches(path, method)}


def org_slug(path: str) -> str | None:
    """The `{slug}` of an org-scoped API path."""
    match = ORG_SCOPED._any.match(path)
    return match.group("slug") if match else None


def redirect_exempt() -> list[str]:
    """SECURE_REDIRECT_EXEMPT (Django matches it against the path without its leading slash):
    load balancers probe health and metrics over plain HTTP."""
    return [p.replace("^/", "^", 1) for p in OPERATIONS.patterns]
