"""Browser tests: headless Debian Chromium driven by Playwright (sync API) against `live_server`.

- Chromium is the system's `/usr/bin/chromium` (Debian package `chromium`); Playwright's own
  browser download (`playwright install`) is never used. Without it the tests are skipped, or
  fail when `CI=true` (CI must not pass by skipping them).
- One browser per run of this package; a fresh context (cookies, storage) per test.
- A failing test leaves a screenshot in `var/test-artifacts/<test name>.png`.
- Every test here is marked `browser` (`make test-fast` deselects them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import in_ci

CHROMIUM = Path(os.environ.get("KEEL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/browser with `browser` (before `-m` deselects)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Headless Chromium for the whole package (stopped when the last browser test ends).

    Playwright's sync API keeps an asyncio loop in this thread, so Django's ORM (used by the
    test database fixtures meanwhile) would refuse to run: DJANGO_ALLOW_ASYNC_UNSAFE is set
    for exactly as long as Playwright runs, and restored afterwards.
    """
    if not CHROMIUM.is_file():
        reason = (
            f"{CHROMIUM} not found: install Debian's Chromium "
            "(apt-get install -y --no-install-recommends chromium)"
        )
        if in_ci():
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)

    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def artifact_path(name: str) -> Path:
    """`var/test-artifacts/<name>.png`, with the name made safe for a file system."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_')}.png"


@pytest.fixture
def page(browser: object, live_server: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A page in a fresh browser context whose base URL is the live server.

    Relative URLs work: `page.goto("/")`. On failure a full-page screenshot is saved.
    """
    context = browser.new_context(
        base_url=live_server.url,
        color_scheme="light",
        locale="en-US",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                path = artifact_path(request.node.name)
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of the failing page: {path}")
            except Exception as exc:
                print(f"could not take a screenshot: {exc}")
        context.close()
