"""Runtime settings (contract §13.9) as config reads them.

The settings live in the security app (`security.system_settings`: definitions, cache, admin);
config reads them through `settings.RUNTIME_SETTING_READER`, so that config imports no app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _reader() -> Callable[[str], Any]:
    return import_string(settings.RUNTIME_SETTING_READER)


def runtime_setting(key: str) -> Any:
    """The current value of a runtime setting (cached by its owner, live within 5 s)."""
    return _reader()(key)
