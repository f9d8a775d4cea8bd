"""Parse a request's user agent into the strings sessions and login history show."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

from user_agents import parse


@dataclass(frozen=True)
class Device:
    user_agent: str
    device_info: str
    browser: str
    browser_version: str
    os: str
    os_version: str
    device_type: str

    def as_fields(self) -> dict[str, str]:
        return asdict(self)


@lru_cache(maxsize=1024)
def parse_device(user_agent: str) -> Device:
    """`Chrome 131 on macOS`-style summary; every field a string ("" if unknown)."""
    ua = (user_agent or "")[:512]
    if not ua:
        return Device("", "", "", "", "", "", "unknown")
    parsed = parse(ua)
    browser = parsed.browser.family if parsed.browser.family != "Other" else ""
    browser_version = parsed.browser.version_string.split(".")[0] if browser else ""
    os_name = parsed.os.family if parsed.os.family != "Other" else ""
    os_name = {"Mac OS X": "macOS"}.get(os_name, os_name)
    os_version = parsed.os.version_string if os_name else ""
    if parsed.is_bot:
        kind = "bot"
    elif parsed.is_tablet:
        kind = "tablet"
    elif parsed.is_mobile:
        kind = "mobile"
    elif parsed.is_pc:
        kind = "desktop"
    else:
        kind = "unknown"
    label = " ".join(p for p in (browser, browser_version) if p)
    info = f"{label} on {os_name}" if label and os_name else (label or os_name)
    return Device(ua, info, browser, browser_version, os_name, os_version, kind)
