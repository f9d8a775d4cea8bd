"""The privacy journey in a real browser (contract §3.6–3.8): settings → privacy, request an
export, wait for it, download the ZIP, request deletion, cancel it — and the progress bar that
polls the API while an export is being prepared."""

from __future__ import annotations

import json
import zipfile

import pytest
from playwright.sync_api import Page, expect

from accounts.models import DataExport, User
from accounts.privacy.tasks import generate_data_export
from tests.browser.conftest import artifact_path
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.browser
EMAIL = "paula@example.com"


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


@pytest.fixture
def paula(transactional_db) -> User:
    return UserFactory(email=EMAIL, name="Paula Privacy")


def sign_in(page: Page) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Paula Privacy")


def test_export_download_then_request_and_cancel_deletion(page: Page, paula, live_server, tmp_path):
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page)

    # Settings → change preferences (saved, and in the export below).
    page.goto("/settings/preferences/")
    page.select_option("select[name=theme]", "dark")
    page.select_option("select[name=timezone]", "Europe/Lisbon")
    page.check("input[name=weekly_digest]")
    page.get_by_test_id("preferences-save").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    expect(page.locator("select[name=timezone]")).to_have_value("Europe/Lisbon")

    # → Privacy.
    page.get_by_test_id("nav-privacy").click()
    expect(page).to_have_url(f"{live_server.url}/settings/privacy/")
    expect(page.get_by_test_id("page-title")).to_have_text("Privacy")

    # Request an export; the job runs once the request commits, so it is ready at once.
    page.get_by_test_id("export-request").click()
    expect(page.get_by_test_id("export-status")).to_have_text("Completed")
    expect(page.get_by_test_id("export-download")).to_be_visible()

    # Download the ZIP.
    with page.expect_download() as info:
        page.get_by_test_id("export-download").click()
    download = info.value
    assert download.suggested_filename == f"user_data_{paula.pk}.zip"
    target = tmp_path / download.suggested_filename
    download.save_as(str(target))
    with zipfile.ZipFile(target) as archive:
        assert {"user_data.json", "README.txt"} <= set(archive.namelist())
        data = json.loads(archive.read("user_data.json"))
        assert data["profile"]["email"] == EMAIL
        assert data["preferences"]["timezone"] == "Europe/Lisbon"
        assert data["preferences"]["email_notifications"]["weekly_digest"] is True
    page.screenshot(path=str(artifact_path("privacy-export-ready")), full_page=True)

    # A second export today is refused with the reason.
    page.get_by_test_id("export-request").click()
    expect(page.get_by_text("one data export every 24 hours")).to_be_visible()

    # Request deletion with the password and a reason.
    page.get_by_test_id("deletion-password").fill(DEFAULT_PASSWORD)
    page.get_by_test_id("deletion-reason").fill("Just testing")
    page.get_by_test_id("deletion-request").click()
    expect(page.get_by_test_id("deletion-scheduled")).to_be_visible()
    paula.refresh_from_db()
    assert paula.deletion_scheduled_at is not None and paula.deletion_reason == "Just testing"
    expect(page.get_by_test_id("deletion-date")).to_have_text(
        f"{paula.deletion_scheduled_at:%B} {paula.deletion_scheduled_at.day}, "
        f"{paula.deletion_scheduled_at:%Y}"
    )
    page.screenshot(path=str(artifact_path("privacy-deletion-scheduled")), full_page=True)

    # Cancel it.
    page.get_by_test_id("deletion-cancel").click()
    expect(page.get_by_test_id("deletion-form")).to_be_visible()
    expect(page.get_by_test_id("deletion-scheduled")).to_have_count(0)
    paula.refresh_from_db()
    assert paula.deletion_requested_at is None and paula.deletion_scheduled_at is None


def test_the_progress_bar_follows_a_running_export(page: Page, paula):
    export = DataExport.objects.create(user=paula, status="processing", progress=20)
    sign_in(page)
    page.goto("/settings/privacy/")
    expect(page.get_by_test_id("export-progress-label")).to_have_text("20%")
    expect(page.get_by_test_id("export-request")).to_have_count(0)

    # The worker moves on: the page's poll picks it up without a reload.
    DataExport.objects.filter(pk=export.pk).update(progress=70)
    expect(page.get_by_test_id("export-progress-label")).to_have_text("70%")
    assert page.get_by_test_id("export-progress").evaluate("el => el.value") == 70

    # The worker finishes (re-running the interrupted export): the page shows the download.
    generate_data_export(export_id=export.pk)
    expect(page.get_by_test_id("export-download")).to_be_visible()
    expect(page.get_by_test_id("export-status")).to_have_text("Completed")
