"""allauth's internal helpers that Keel relies on still exist where Keel imports them from."""

from __future__ import annotations

import inspect


def test_the_allauth_internals_keel_uses_are_importable_callables():
    from accounts.auth import allauth_internals

    for name in allauth_internals.__all__:
        assert callable(getattr(allauth_internals, name)), name
    params = inspect.signature(allauth_internals.record_authentication).parameters
    assert "request" in params
    assert "request" in inspect.signature(allauth_internals.get_authentication_records).parameters


def test_nothing_else_imports_allauth_internals():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for folder in ("accounts", "config", "organizations", "security")
        for path in (root / folder).rglob("*.py")
        if re.search(r"^\s*(from|import) allauth\.\w+\.internal", path.read_text(), re.M)
        and path.name != "allauth_internals.py"
    ]
    assert offenders == []
