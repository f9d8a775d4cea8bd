"""SESSION_ENGINE with Redis (cache in front of the database)."""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db

from accounts.sessions import BoundSessionMixin


class SessionStore(BoundSessionMixin, cached_db.SessionStore):
    pass
