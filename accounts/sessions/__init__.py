"""Django session engines that keep Keel's session rows bound to the browser session.

A page sign-in's `UserSession` stores the Django session key so that revoking the row ends the
browser session. Django changes the key on privilege changes (`cycle_key`: password change,
sign-in); these engines move the binding to the new key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.sessions.backends.base import SessionBase

from accounts.models import UserSession

# A mixin for session engines: type-checked as one, a plain class at runtime.
if TYPE_CHECKING:
    _SessionEngine = SessionBase
else:
    _SessionEngine = object


class BoundSessionMixin(_SessionEngine):
    def cycle_key(self) -> None:
        old = self.session_key
        super().cycle_key()
        session_id = self.get("keel_session_id")
        if old and isinstance(session_id, int) and self.session_key:
            UserSession.objects.filter(pk=session_id, django_session_key=old).update(
                django_session_key=self.session_key
            )
