"""The django-allauth internals Keel uses, in one place.

allauth does not promise that `allauth.*.internal` stays the same between releases; Keel needs
three of its helpers to drive a login stage and the 2FA step like allauth's own flows do. They
are imported only here, and `tests/accounts/test_allauth_internals.py` imports them, so an
allauth upgrade that moves one fails that test by name instead of at runtime.
"""

from __future__ import annotations

from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.core.internal.httpkit import headed_redirect_response

__all__ = ["get_authentication_records", "headed_redirect_response", "record_authentication"]
