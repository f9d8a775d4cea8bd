"""SESSION_ENGINE for the embedded default (database sessions)."""

from __future__ import annotations

from django.contrib.sessions.backends import db

from accounts.sessions import BoundSessionMixin


class SessionStore(BoundSessionMixin, db.SessionStore):
    pass
