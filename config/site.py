"""The site's identity as staff set it (system settings of the `site` category), for every page
(`config.context_processors.keel`) and every email (`config.emails`): one place.

Read on every render; the settings are cached per process, so a change is live within 5 s.
Empty values stay empty: templates show a logo, a description or a support link only when set.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.runtime import runtime_setting as get_setting


def site_context() -> dict[str, Any]:
    return {
        "site_name": get_setting("site_name"),
        "site_description": get_setting("site_description"),
        "site_logo_url": get_setting("site_logo_url"),
        "support_url": get_setting("support_url"),
        "support_email": get_setting("contact_email"),
        "site_url": settings.SITE_URL,
    }
