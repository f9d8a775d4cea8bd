"""GDPR export and account deletion (contract §3.6–3.8, §14): every route and rule, the export
job's idempotency, the cleanup, reminder and purge jobs, the emails and the privacy page."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from accounts.auth.sessions import RequestMeta, session_create
from accounts.models import BackupCode, DataExport, ExportStatus, LoginHistory, User, UserSession
from accounts.privacy import services as privacy
from accounts.privacy.tasks import (
    cleanup_expired_exports,
    generate_data_export,
    purge_deleted_accounts,
    send_account_deletion_reminders,
)
from config.emails import email_render
from config.jobs import SCHEDULES, autodiscover
from organizations.models import Membership, Organization, OrgRole
from security.models import AuditLog
from security.services import audit_record
from tests.accounts.helpers import enrol, last_email_to
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

SCHEMA_PATH = Path(django_settings.BASE_DIR) / "accounts" / "schemas" / "user_data.schema.json"
DOCS_PATH = Path(django_settings.BASE_DIR) / "docs" / "gdpr.md"
META = RequestMeta(ip="203.0.113.9", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
EXPORT, DOWNLOAD = "/api/v1/users/me/export", "/api/v1/users/me/export/download"
DELETE, CANCEL = "/api/v1/users/me/delete", "/api/v1/users/me/delete/cancel"


@pytest.fixture(autouse=True)
def _private(private_storage):
    return private_storage


@pytest.fixture
def me(api, alice):
    api.force_authenticate(alice)
    return api


def request_export(api, capture):
    with capture(execute=True):
        return api.post(EXPORT)


def zip_members(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def completed_export(user: User, *, age: timedelta = timedelta(0)) -> DataExport:
    """A finished export (built for real), requested `age` ago."""
    export = DataExport.objects.create(user=user)
    generate_data_export(export_id=export.pk)
    DataExport.objects.filter(pk=export.pk).update(
        requested_at=timezone.now() - age,
        completed_at=timezone.now() - age,
        expires_at=timezone.now() - age + privacy.EXPORT_LIFETIME,
    )
    return DataExport.objects.get(pk=export.pk)


# --- POST /users/me/export ---------------------------------------------------------------------


def test_requesting_an_export_answers_the_pending_export_and_the_job_builds_the_zip(
    me, alice, django_capture_on_commit_callbacks, private_storage
):
    response = request_export(me, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"]
    data = body["data"]
    assert data["status"] == "pending" and data["download_url"] is None
    assert {"id", "status", "download_url", "requested_at", "created_at", "completed_at"} <= set(
        data
    )
    assert {"expires_at", "file_size", "error_message"} <= set(data)
    assert data["requested_at"].endswith("Z")

    export = DataExport.objects.get(pk=data["id"])
    assert export.status == "completed" and export.progress == 100 and export.attempts == 1
    assert re.fullmatch(rf"exports/{alice.pk}/[0-9a-f]{{32}}\.zip", export.file_path)
    assert (private_storage / export.file_path).is_file()
    assert export.file_size == (private_storage / export.file_path).stat().st_size
    assert export.expires_at - export.completed_at == timedelta(days=7)
    assert AuditLog.objects.filter(
        actor=alice, action="data_export_request", target_id=str(export.pk)
    ).exists()
    ready = last_email_to(alice.email)
    assert "data export is ready" in ready.subject
    assert "/settings/privacy/" in ready.body


def test_private_storage_is_configured_outside_every_served_directory(private_storage):
    import config.settings as configured

    private = configured.STORAGES["private"]
    assert private["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    location = Path(private["OPTIONS"]["location"]).resolve()
    for served in (configured.MEDIA_ROOT, configured.STATIC_ROOT, configured.BASE_DIR / "static"):
        assert not location.is_relative_to(Path(served).resolve())
    assert Path(storages["private"].location).resolve() == private_storage.resolve()


def test_a_completed_export_pushes_a_notification_event(
    me, alice, django_capture_on_commit_callbacks, monkeypatch
):
    events = []
    monkeypatch.setattr(
        "config.realtime.publish_to_user", lambda uid, kind, payload: events.append((uid, kind))
    )
    request_export(me, django_capture_on_commit_callbacks)
    assert (alice.pk, "notification") in events


def test_a_second_request_while_one_is_in_progress_is_a_conflict(me, alice):
    DataExport.objects.create(user=alice, status="processing")
    response = me.post(EXPORT)
    assert response.status_code == 409
    assert response.json()["error"] == "CONFLICT"
    assert DataExport.objects.filter(user=alice).count() == 1


def test_a_second_request_within_24_hours_is_rate_limited_with_retry_after(me, alice):
    completed_export(alice, age=timedelta(hours=20))
    response = me.post(EXPORT)
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "RATE_LIMITED"
    retry_after = int(response["Retry-After"])
    assert body["retry_after"] == retry_after
    assert 4 * 3600 - 60 <= retry_after <= 4 * 3600
    assert DataExport.objects.filter(user=alice).count() == 1


def test_a_request_24_hours_after_the_last_is_accepted(
    me, alice, django_capture_on_commit_callbacks
):
    completed_export(alice, age=timedelta(hours=24, minutes=1))
    assert request_export(me, django_capture_on_commit_callbacks).status_code == 200
    assert DataExport.objects.filter(user=alice).count() == 2


def test_a_failed_export_does_not_count_toward_the_daily_limit(
    me, alice, django_capture_on_commit_callbacks
):
    DataExport.objects.create(user=alice, status="failed", error_message="boom")
    assert request_export(me, django_capture_on_commit_callbacks).status_code == 200


# --- GET /users/me/export ----------------------------------------------------------------------


def test_get_export_is_404_when_there_is_none(me):
    response = me.get(EXPORT)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"


def test_get_export_returns_the_latest_bare_with_the_download_url_when_completed(me, alice):
    completed_export(alice, age=timedelta(days=2))
    latest = completed_export(alice)
    body = me.get(EXPORT).json()
    assert "success" not in body
    assert body["id"] == latest.pk and body["status"] == "completed"
    assert body["download_url"] == "/api/v1/users/me/export/download"
    assert body["file_size"] == latest.file_size and body["progress"] == 100
    assert body["completed_at"].endswith("Z") and body["expires_at"].endswith("Z")
    assert body["error_message"] is None


def test_get_export_marks_an_export_past_its_expiry_as_expired(me, alice):
    completed_export(alice, age=timedelta(days=8))
    body = me.get(EXPORT).json()
    assert body["status"] == "expired" and body["download_url"] is None
    assert DataExport.objects.get(user=alice).status == "expired"


def test_get_export_shows_progress_while_processing(me, alice):
    DataExport.objects.create(user=alice, status="processing", progress=40)
    body = me.get(EXPORT).json()
    assert body["status"] == "processing" and body["progress"] == 40
    assert body["download_url"] is None


# --- GET /users/me/export/download -------------------------------------------------------------


def test_the_owner_downloads_the_zip_streamed(me, alice):
    DataExport.objects.create(user=UserFactory(), status=ExportStatus.FAILED)  # ids part ways
    export = completed_export(alice)
    assert export.pk != alice.pk
    response = me.get(DOWNLOAD)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="user_data_{alice.pk}.zip"'
    assert "no-store" in response["Cache-Control"]
    members = zip_members(b"".join(response.streaming_content))
    assert set(members) == {"user_data.json", "README.txt"}
    assert json.loads(members["user_data.json"])["profile"]["email"] == alice.email
    assert b"user_data.json" in members["README.txt"]
    assert AuditLog.objects.filter(actor=alice, action="data_export_download").exists()


def test_the_download_answers_a_zip_whatever_the_client_accepts(me, alice):
    completed_export(alice)
    response = me.get(DOWNLOAD, HTTP_ACCEPT="application/zip")
    assert response.status_code == 200


def test_another_users_export_is_never_served(api, alice, bob):
    completed_export(alice)
    api.force_authenticate(bob)
    response = api.get(DOWNLOAD)
    assert response.status_code == 404
    assert response.json()["error"] == "NOT_FOUND"
    assert api.get(EXPORT).status_code == 404


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_download_is_404_until_the_export_is_ready(me, alice, status):
    DataExport.objects.create(user=alice, status=status)
    assert me.get(DOWNLOAD).status_code == 404


def test_download_is_404_without_any_export(me):
    assert me.get(DOWNLOAD).status_code == 404


def test_download_is_404_once_expired(me, alice):
    completed_export(alice, age=timedelta(days=7, minutes=1))
    assert me.get(DOWNLOAD).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", EXPORT),
        ("get", EXPORT),
        ("get", DOWNLOAD),
        ("post", DELETE),
        ("get", DELETE),
        ("delete", DELETE),
        ("post", CANCEL),
    ],
)
def test_every_privacy_route_needs_a_signed_in_user(api, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"


# --- The export's content ----------------------------------------------------------------------


@pytest.fixture
def rich_alice(alice, acme, bob):
    """Alice with something in every section: sessions, history, 2FA, a provider, an audit."""
    session_create(user=alice, meta=META, method="password")
    for i in range(105):
        LoginHistory.objects.create(user=alice, success=i % 3 != 0, failure_reason="")
    enrol(alice)
    BackupCode.objects.create(user=alice, code_hash="c" * 64)
    SocialAccount.objects.create(
        user=alice, provider="github", uid="4242", extra_data={"email": "alice@users.github"}
    )
    audit_record(actor=alice, action="profile_update", target_type="user", target_id=alice.pk)
    audit_record(actor=bob, action="profile_update", target_type="user", target_id=bob.pk)
    alice.social_links = {"github": "https://github.com/alice"}
    alice.save()
    return alice


def test_the_export_json_validates_against_the_documented_schema(rich_alice):
    out = io.BytesIO()
    privacy.data_export_build(user=rich_alice, out=out)
    data = json.loads(zip_members(out.getvalue())["user_data.json"])

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(
        data,
        schema,
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )

    assert data["profile"]["email"] == "alice@example.com"
    assert data["preferences"]["theme"] == "system"
    assert len(data["sessions"]) == 1 and data["sessions"][0]["ip_address"] == "203.0.113.9"
    assert len(data["login_history"]) == 100
    assert data["two_factor"] == {
        "enabled": True,
        "verified_at": data["two_factor"]["verified_at"],
        "backup_codes_remaining": 1,
    }
    assert data["connected_accounts"] == [
        {
            "provider": "github",
            "uid": "4242",
            "email": "alice@users.github",
            "date_joined": data["connected_accounts"][0]["date_joined"],
        }
    ]
    assert data["memberships"][0]["organization_slug"] == "acme"
    assert data["memberships"][0]["role"] == "owner"
    assert {a["action"] for a in data["audit_log"]} >= {"profile_update"}
    assert all(a["target_id"] != str(rich_alice.pk + 1000) for a in data["audit_log"])
    assert data["notifications"] == data["usage"] == data["files"] == []


def test_the_export_holds_no_secrets(rich_alice):
    out = io.BytesIO()
    privacy.data_export_build(user=rich_alice, out=out)
    text = zip_members(out.getvalue())["user_data.json"].decode()
    device = rich_alice.totp_device
    assert rich_alice.password not in text
    assert device.encrypted_secret not in text and device.secret.hex() not in text
    assert "c" * 64 not in text
    assert not re.search(r'"(password|refresh_token_hash|code_hash|encrypted_secret)": ', text)


def test_only_the_users_own_audit_entries_and_at_most_500_are_exported(alice, bob):
    for _ in range(3):
        audit_record(actor=bob, action="bob_thing", target_type="user", target_id=bob.pk)
    AuditLog.objects.bulk_create(
        [AuditLog(actor=alice, action="alice_thing", target_type="user") for _ in range(510)]
    )
    data = privacy.data_export_collect(user=alice)
    assert len(data["audit_log"]) == 500
    assert {a["action"] for a in data["audit_log"]} == {"alice_thing"}


def test_docs_gdpr_embeds_the_same_schema():
    docs = DOCS_PATH.read_text()
    blocks = re.findall(r"```json\n(.*?)\n```", docs, flags=re.S)
    schemas = [json.loads(b) for b in blocks if '"$schema"' in b]
    assert schemas == [json.loads(SCHEMA_PATH.read_text())]


# --- The export job: progress, idempotency, failures -------------------------------------------


def test_the_job_records_progress_while_it_builds(alice, monkeypatch):
    export = DataExport.objects.create(user=alice)
    seen = []

    def spy(user):
        row = DataExport.objects.get(pk=export.pk)
        seen.append((row.status, row.progress))
        return []

    monkeypatch.setattr(privacy, "EXPORT_SECTIONS", (*privacy.EXPORT_SECTIONS, ("spy", spy)))
    generate_data_export(export_id=export.pk)
    status, progress = seen[0]
    assert status == "processing" and 50 <= progress < 100
    assert DataExport.objects.get(pk=export.pk).progress == 100


def test_running_the_job_twice_leaves_one_completed_export(
    alice, private_storage, django_capture_on_commit_callbacks
):
    export = DataExport.objects.create(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        generate_data_export(export_id=export.pk)
    first = DataExport.objects.get(pk=export.pk)
    with django_capture_on_commit_callbacks(execute=True):
        generate_data_export(export_id=export.pk)  # a re-delivered task
    second = DataExport.objects.get(pk=export.pk)
    assert second.status == "completed" and second.attempts == 1
    assert (second.file_path, second.completed_at) == (first.file_path, first.completed_at)
    assert len(list((private_storage / "exports" / str(alice.pk)).iterdir())) == 1
    assert len([m for m in mail.outbox if "data export" in m.subject]) == 1


def test_a_processing_export_left_by_a_killed_worker_restarts_cleanly(alice, private_storage):
    storage = storages["private"]
    stale = storage.save(f"exports/{alice.pk}/half-written.zip", ContentFile(b"PK\x03\x04trunc"))
    export = DataExport.objects.create(
        user=alice,
        status="processing",
        progress=60,
        attempts=1,
        file_path=stale,
        started_at=timezone.now() - timedelta(minutes=7),
    )

    generate_data_export(export_id=export.pk)

    export.refresh_from_db()
    assert export.status == "completed" and export.progress == 100 and export.attempts == 2
    assert export.file_path != stale and not storage.exists(stale)
    with storage.open(export.file_path) as handle:
        assert set(zip_members(handle.read())) == {"user_data.json", "README.txt"}


def test_a_run_superseded_by_a_newer_one_does_not_complete_the_export(
    alice, monkeypatch, private_storage, django_capture_on_commit_callbacks
):
    export = DataExport.objects.create(user=alice)
    real_build = privacy.data_export_build

    def build_while_another_run_starts(**kwargs):
        real_build(**kwargs)
        DataExport.objects.filter(pk=export.pk).update(started_at=timezone.now())

    monkeypatch.setattr(privacy, "data_export_build", build_while_another_run_starts)
    with django_capture_on_commit_callbacks(execute=True):
        generate_data_export(export_id=export.pk)

    export.refresh_from_db()
    assert export.status == "processing" and export.completed_at is None  # the newer run's
    assert not any((private_storage / "exports" / str(alice.pk)).iterdir())
    assert not mail.outbox


def test_a_failing_export_is_retried_then_marked_failed_after_the_last_attempt(
    me, alice, monkeypatch
):
    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(privacy, "data_export_build", broken)
    export = DataExport.objects.create(user=alice)
    for attempt in range(1, privacy.EXPORT_MAX_ATTEMPTS + 1):
        with pytest.raises(OSError):
            generate_data_export(export_id=export.pk)
        export.refresh_from_db()
        if attempt < privacy.EXPORT_MAX_ATTEMPTS:
            assert export.status == "pending" and not export.error_message
    assert export.status == "failed" and export.attempts == privacy.EXPORT_MAX_ATTEMPTS
    assert export.file_path == ""
    body = me.get(EXPORT).json()
    assert body["status"] == "failed" and body["error_message"] == privacy.EXPORT_FAILED_MESSAGE
    generate_data_export(export_id=export.pk)  # a late retry changes nothing
    assert DataExport.objects.get(pk=export.pk).status == "failed"


def test_the_job_schedules_a_retry_through_the_job_runner(alice, monkeypatch):
    from django_q.models import Schedule

    from config import jobs

    monkeypatch.setattr(privacy, "data_export_build", lambda **kw: 1 / 0)
    export = DataExport.objects.create(user=alice)
    with pytest.raises(ZeroDivisionError):
        jobs.execute("generate_data_export", {"export_id": export.pk}, 1)
    assert Schedule.objects.filter(name__startswith="retry generate_data_export #2").exists()
    assert DataExport.objects.get(pk=export.pk).status == "pending"


def test_the_job_ignores_an_export_that_no_longer_exists():
    assert generate_data_export(export_id=987654) is None


# --- Cleanup -----------------------------------------------------------------------------------


def test_cleanup_deletes_files_expired_more_than_a_day_ago(alice, bob, private_storage):
    old = completed_export(alice, age=timedelta(days=8, hours=1))
    recent = completed_export(bob, age=timedelta(days=7, hours=1))  # expired 1 h ago

    assert cleanup_expired_exports() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "expired" and old.file_path == ""
    assert not any((private_storage / "exports" / str(alice.pk)).iterdir())
    assert recent.status == "completed" and (private_storage / recent.file_path).is_file()


def test_cleanup_deletes_the_file_of_an_export_already_marked_expired(me, alice, private_storage):
    export = completed_export(alice, age=timedelta(days=9))
    me.get(EXPORT)  # marks it expired, the file stays for the cleanup
    assert (private_storage / export.file_path).is_file()
    cleanup_expired_exports()
    assert not (private_storage / export.file_path).exists()


def test_cleanup_fails_exports_stuck_in_progress_for_hours(alice, bob):
    stuck = DataExport.objects.create(
        user=alice, status="processing", started_at=timezone.now() - timedelta(hours=3)
    )
    running = DataExport.objects.create(
        user=bob, status="processing", started_at=timezone.now() - timedelta(minutes=5)
    )
    cleanup_expired_exports()
    stuck.refresh_from_db()
    running.refresh_from_db()
    assert stuck.status == "failed" and stuck.error_message == privacy.EXPORT_STALE_MESSAGE
    assert running.status == "processing"


def test_the_privacy_jobs_are_scheduled():
    autodiscover()
    assert SCHEDULES["cleanup_expired_exports"].hourly
    assert SCHEDULES["purge_deleted_accounts"].daily_at == privacy.PURGE_AT
    assert privacy.PURGE_AT.hour == 3 and privacy.PURGE_AT.minute == 0
    assert SCHEDULES["send_account_deletion_reminders"].daily_at == privacy.PURGE_AT


# --- POST / GET / DELETE /users/me/delete, POST /users/me/delete/cancel ------------------------


def request_deletion(api, capture, **body):
    body.setdefault("password", DEFAULT_PASSWORD)
    with capture(execute=True):
        return api.post(DELETE, body, format="json")


def test_requesting_deletion_with_the_password_schedules_it_in_14_days(
    me, alice, django_capture_on_commit_callbacks
):
    response = request_deletion(me, django_capture_on_commit_callbacks, reason="Too many emails")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and "scheduled for deletion" in body["message"]
    data = body["data"]
    assert data["requested"] is True and data["reason"] == "Too many emails"
    alice.refresh_from_db()
    assert alice.deletion_scheduled_at - alice.deletion_requested_at == timedelta(days=14)
    assert alice.deletion_reason == "Too many emails"
    assert data["scheduled_for"].endswith("Z") and data["requested_at"].endswith("Z")
    assert AuditLog.objects.filter(actor=alice, action="deletion_requested").exists()
    email = last_email_to(alice.email)
    assert "scheduled for deletion" in email.subject
    assert "/settings/privacy/" in email.body


def test_a_wrong_password_is_a_validation_error_and_nothing_is_stored(
    me, alice, django_capture_on_commit_callbacks
):
    response = request_deletion(me, django_capture_on_commit_callbacks, password="wrong")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR"
    assert body["message"] == "password: Incorrect password"
    assert body["details"][0]["field"] == "password"
    alice.refresh_from_db()
    assert alice.deletion_requested_at is None
    assert not mail.outbox


def test_a_missing_password_is_a_validation_error(me, alice):
    response = me.post(DELETE, {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("password: ")


def test_an_account_without_a_password_confirms_with_delete(
    api, alice, django_capture_on_commit_callbacks
):
    alice.set_unusable_password()
    alice.save()
    api.force_authenticate(alice)

    refused = api.post(DELETE, {"confirmation": "delete"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("confirmation: ")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(DELETE, {"confirmation": "DELETE"}, format="json")
    assert response.status_code == 200 and response.json()["data"]["requested"] is True


def test_a_repeated_request_returns_the_existing_one(me, alice, django_capture_on_commit_callbacks):
    first = request_deletion(me, django_capture_on_commit_callbacks, reason="first").json()
    second = request_deletion(me, django_capture_on_commit_callbacks, reason="second").json()
    assert second["data"] == first["data"]
    assert len([m for m in mail.outbox if "scheduled for deletion" in m.subject]) == 1


def test_get_delete_reports_the_request(me, alice, django_capture_on_commit_callbacks):
    assert me.get(DELETE).json() == {
        "requested": False,
        "requested_at": None,
        "scheduled_for": None,
        "reason": None,
    }
    request_deletion(me, django_capture_on_commit_callbacks)
    body = me.get(DELETE).json()
    assert body["requested"] is True and body["scheduled_for"] and body["reason"] is None


@pytest.mark.parametrize(("method", "path"), [("delete", DELETE), ("post", CANCEL)])
def test_cancelling_clears_the_request_and_is_idempotent(
    me, alice, django_capture_on_commit_callbacks, method, path
):
    request_deletion(me, django_capture_on_commit_callbacks, reason="bye")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = getattr(me, method)(path)
        assert response.status_code == 200
        assert response.json() == {
            "success": True,
            "message": "Account deletion has been cancelled",
        }
    alice.refresh_from_db()
    assert (alice.deletion_requested_at, alice.deletion_scheduled_at) == (None, None)
    assert alice.deletion_reason == ""
    assert len([m for m in mail.outbox if "will not be deleted" in m.subject]) == 1
    assert AuditLog.objects.filter(actor=alice, action="deletion_cancelled").count() == 1


def test_signing_in_during_the_grace_period_cancels_the_deletion_and_says_so(
    api, alice, django_capture_on_commit_callbacks
):
    privacy.account_deletion_request(user=alice, password=DEFAULT_PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/auth/login",
            {"email": alice.email, "password": DEFAULT_PASSWORD},
            format="json",
        )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.deletion_requested_at is None and alice.deletion_scheduled_at is None
    assert "will not be deleted" in last_email_to(alice.email).subject


# --- Reminder and purge ------------------------------------------------------------------------


def schedule_deletion(user: User, *, due_in: timedelta) -> User:
    """A deletion request whose grace period ends `due_in` from now (negative: overdue)."""
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(
        deletion_requested_at=now + due_in - privacy.DELETION_GRACE,
        deletion_scheduled_at=now + due_in,
        deletion_reason="leaving",
    )
    return User.objects.get(pk=user.pk)


def test_the_reminder_goes_to_accounts_the_next_purge_deletes(
    alice, bob, charlie, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(timezone.now().replace(hour=3, minute=0, second=30), tick=False)
    schedule_deletion(alice, due_in=timedelta(hours=20))  # deleted at tomorrow's run
    schedule_deletion(bob, due_in=timedelta(days=3))
    schedule_deletion(charlie, due_in=timedelta(hours=-2))  # today's run: reminded yesterday

    with django_capture_on_commit_callbacks(execute=True):
        assert send_account_deletion_reminders() == 1

    [reminder] = [m for m in mail.outbox if "deleted tomorrow" in m.subject]
    assert reminder.to == [alice.email]


def test_the_reminder_window_follows_the_purge_time_not_the_runs_delay():
    base = timezone.now().replace(hour=3, minute=0, second=0, microsecond=0)
    late_run = base + timedelta(hours=2)
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(
        deletion_requested_at=base, deletion_scheduled_at=base + timedelta(hours=23)
    )
    assert list(privacy.deletion_reminder_list(now=late_run)) == [user]
    assert list(privacy.deletion_reminder_list(now=base + timedelta(days=1, minutes=1))) == []


def test_the_purge_hard_deletes_due_accounts_and_emails_the_old_address(
    alice, bob, private_storage, django_capture_on_commit_callbacks
):
    export = completed_export(alice)
    session_create(user=alice, meta=META, method="password")
    audit_record(actor=alice, action="profile_update", target_type="user", target_id=alice.pk)
    schedule_deletion(alice, due_in=timedelta(minutes=-1))
    schedule_deletion(bob, due_in=timedelta(days=1))
    alice_id = alice.pk

    with django_capture_on_commit_callbacks(execute=True):
        assert purge_deleted_accounts() == 1

    assert not User.objects.filter(pk=alice_id).exists()
    assert User.objects.filter(pk=bob.pk).exists()
    assert not UserSession.objects.filter(user_id=alice_id).exists()
    assert not DataExport.objects.filter(user_id=alice_id).exists()
    assert not (private_storage / export.file_path).exists()
    kept = AuditLog.objects.get(action="profile_update", target_id=str(alice_id))
    assert kept.actor_id is None
    purge_entry = AuditLog.objects.get(action="account_purge", target_id=str(alice_id))
    assert purge_entry.actor_id is None
    goodbye = last_email_to("alice@example.com")
    assert "has been deleted" in goodbye.subject
    assert "Alice Owner" in goodbye.body


def test_a_purged_users_token_stops_working_at_once(api, alice, django_capture_on_commit_callbacks):
    login = api.post(
        "/api/v1/auth/login", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    token = login.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(DELETE).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        privacy.account_purge(user=alice)
    assert api.get(DELETE).status_code == 401


def test_the_purge_hands_a_sole_owner_org_to_the_earliest_joined_admin(alice):
    org = OrganizationFactory(slug="handover")
    now = timezone.now()
    MembershipFactory(
        organization=org, user=alice, role=OrgRole.OWNER, joined_at=now - timedelta(9)
    )
    early_member = MembershipFactory(
        organization=org, role=OrgRole.MEMBER, joined_at=now - timedelta(8)
    )
    late_admin = MembershipFactory(
        organization=org, role=OrgRole.ADMIN, joined_at=now - timedelta(2)
    )
    early_admin = MembershipFactory(
        organization=org, role=OrgRole.ADMIN, joined_at=now - timedelta(5)
    )

    result = privacy.account_purge(user=alice)

    assert result.details["organizations_transferred"] == [org.pk]
    roles = dict(Membership.objects.filter(organization=org).values_list("pk", "role"))
    assert roles == {
        early_member.pk: OrgRole.MEMBER,
        late_admin.pk: OrgRole.ADMIN,
        early_admin.pk: OrgRole.OWNER,
    }
    assert Organization.objects.get(pk=org.pk).deleted_at is None
    assert AuditLog.objects.filter(action="ownership_transfer", target_id=str(org.pk)).exists()


def test_without_admins_the_earliest_joined_member_becomes_owner(alice, acme, bob):
    newer = MembershipFactory(organization=acme, role=OrgRole.MEMBER)
    privacy.account_purge(user=alice)
    assert Membership.objects.get(organization=acme, user=bob).role == OrgRole.OWNER
    assert Membership.objects.get(pk=newer.pk).role == OrgRole.MEMBER


def test_an_org_with_nobody_else_in_it_is_deleted(alice):
    solo = OrganizationFactory(slug="solo")
    MembershipFactory(organization=solo, user=alice, role=OrgRole.OWNER)
    result = privacy.account_purge(user=alice)
    assert result.details["organizations_deleted"] == [solo.pk]
    assert Organization.objects.get(pk=solo.pk).deleted_at is not None
    assert not Organization.objects.filter(slug="solo", deleted_at__isnull=True).exists()


def test_deleting_an_org_cancels_its_invitations_and_keys_through_the_org_services(alice):
    from organizations.models import Invitation, OrgAPIKey

    solo = OrganizationFactory(slug="solo")
    MembershipFactory(organization=solo, user=alice, role=OrgRole.OWNER)
    invitation = Invitation.objects.create(
        organization=solo,
        email="x@example.com",
        role=OrgRole.MEMBER,
        token_hash="i" * 64,
        expires_at=timezone.now() + timedelta(days=3),
    )
    key = OrgAPIKey.objects.create(
        organization=solo, name="ci", prefix="keel_abcdefg", key_hash="k" * 64
    )
    privacy.account_purge(user=alice)
    invitation.refresh_from_db()
    key.refresh_from_db()
    assert invitation.cancelled_at is not None and key.revoked_at is not None
    assert AuditLog.objects.filter(action="organization_delete", target_id=str(solo.pk)).exists()


def test_the_other_members_hear_that_the_user_left(
    alice, acme, bob, monkeypatch, django_capture_on_commit_callbacks
):
    """The org's event goes to its members as they are then: bob, no longer alice."""
    from organizations.selectors import organization_member_ids

    events = []
    monkeypatch.setattr(
        "config.realtime.publish_to_org",
        lambda org_id, kind, payload, **kw: events.append(
            (set(organization_member_ids(organization_id=org_id)), kind, payload)
        ),
    )
    other = OrganizationFactory(slug="other")
    MembershipFactory(organization=other, user=alice, role=OrgRole.MEMBER)
    MembershipFactory(organization=other, user=bob, role=OrgRole.OWNER)
    with django_capture_on_commit_callbacks(execute=True):
        privacy.account_purge(user=alice)
    [(recipients, payload)] = [
        (ids, p) for ids, kind, p in events if kind == "member_update" and p["org_slug"] == "other"
    ]
    assert recipients == {bob.pk}
    assert payload == {
        "org_slug": "other",
        "event": "removed",
        "user_id": alice.pk,
        "reason": "account_deleted",
    }


def test_deletion_is_refused_while_an_org_the_user_is_alone_in_has_a_subscription(me, alice):
    solo = OrganizationFactory(slug="paid", name="Paid Co", stripe_subscription_id="sub_123")
    MembershipFactory(organization=solo, user=alice, role=OrgRole.OWNER)
    response = me.post(DELETE, {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 409
    assert "Paid Co" in response.json()["message"]
    alice.refresh_from_db()
    assert alice.deletion_requested_at is None


def test_the_purge_leaves_an_account_whose_org_cannot_be_deleted_yet(alice):
    solo = OrganizationFactory(slug="paid", stripe_subscription_id="sub_123")
    MembershipFactory(organization=solo, user=alice, role=OrgRole.OWNER)
    schedule_deletion(alice, due_in=timedelta(minutes=-1))
    assert purge_deleted_accounts() == 0
    assert User.objects.filter(pk=alice.pk).exists()
    assert Organization.objects.get(pk=solo.pk).deleted_at is None


def test_an_org_with_another_owner_keeps_its_owners(alice, acme, bob):
    co_owner = MembershipFactory(organization=acme, role=OrgRole.OWNER)
    result = privacy.account_purge(user=alice)
    assert result.details == {"organizations_transferred": [], "organizations_deleted": []}
    assert Membership.objects.get(organization=acme, user=bob).role == OrgRole.MEMBER
    assert Membership.objects.get(pk=co_owner.pk).role == OrgRole.OWNER


def test_inactive_members_do_not_inherit_an_org(alice, acme, bob):
    Membership.objects.filter(organization=acme, user=bob).update(status="inactive")
    result = privacy.account_purge(user=alice)
    assert result.details["organizations_deleted"] == [acme.pk]


def test_one_failing_purge_does_not_stop_the_others(alice, bob, monkeypatch):
    schedule_deletion(alice, due_in=timedelta(minutes=-5))
    schedule_deletion(bob, due_in=timedelta(minutes=-1))
    real = privacy.account_purge

    def flaky(*, user):
        if user.pk == alice.pk:
            raise RuntimeError("boom")
        return real(user=user)

    monkeypatch.setattr(privacy, "account_purge", flaky)
    assert purge_deleted_accounts() == 1
    assert User.objects.filter(pk=alice.pk).exists()
    assert not User.objects.filter(pk=bob.pk).exists()


def test_a_cancelled_request_is_not_purged(alice):
    schedule_deletion(alice, due_in=timedelta(minutes=-1))
    privacy.account_deletion_cancel(user=alice)
    assert purge_deleted_accounts() == 0
    assert User.objects.filter(pk=alice.pk).exists()


# --- Emails ------------------------------------------------------------------------------------

EMAILS = {
    "data_export_ready": {"download_url": "https://app.example.com/settings/privacy/?a=1&b=2"},
    "account_deletion_requested": {"privacy_url": "https://app.example.com/settings/privacy/"},
    "account_deletion_reminder": {"privacy_url": "https://app.example.com/settings/privacy/"},
    "account_deletion_cancelled": {"privacy_url": "https://app.example.com/settings/privacy/"},
    "account_deleted": {},
}


@pytest.mark.parametrize("key", list(EMAILS))
def test_the_privacy_emails_render_and_escape(key):
    when = timezone.now()
    user = User(name="<b>Seán</b> & Co", email="sean@example.com")
    context = {
        "user": user,
        "scheduled_for": when,
        "expires_at": when,
        "deleted_at": when,
        "file_size": 2048,
        "reset_url": "https://app.example.com/accounts/password/reset/",
        **EMAILS[key],
    }
    rendered = email_render(key, context)
    assert rendered.subject.strip() and "\n" not in rendered.subject
    assert "Hi <b>Seán</b> & Co," in rendered.text
    assert "Hi &lt;b&gt;Seán&lt;/b&gt; &amp; Co," in rendered.html
    assert "You received this email because" in rendered.text + rendered.html
    for url in EMAILS[key].values():
        assert url in rendered.text.splitlines()
    assert "<script" not in rendered.html


# --- The privacy page --------------------------------------------------------------------------


def test_the_privacy_page_needs_a_signed_in_user(client):
    response = client.get("/settings/privacy/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_privacy_page_shows_the_export_and_deletion_forms(client, alice):
    client.force_login(alice)
    html = client.get("/settings/privacy/").content.decode()
    for testid in ("export-request", "deletion-password", "deletion-request", "nav-privacy"):
        assert f'data-testid="{testid}"' in html
    assert "<script>" not in html and "onclick" not in html


def test_the_privacy_page_shows_progress_while_the_export_runs(client, alice):
    DataExport.objects.create(user=alice, status="processing", progress=35)
    client.force_login(alice)
    html = client.get("/settings/privacy/").content.decode()
    assert 'data-export-poll="/api/v1/users/me/export"' in html
    assert 'value="35"' in html
    assert 'data-testid="export-request"' not in html


def test_requesting_an_export_from_the_page(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/settings/privacy/export")
    assert response.status_code == 302
    html = client.get("/settings/privacy/").content.decode()
    assert 'data-testid="export-download"' in html
    assert 'href="/api/v1/users/me/export/download"' in html
    again = client.post("/settings/privacy/export", follow=True).content.decode()
    assert "one data export every 24 hours" in again


def test_requesting_and_cancelling_deletion_from_the_page(
    client, alice, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    wrong = client.post("/settings/privacy/delete", {"password": "nope"}, follow=True)
    assert "Incorrect password" in wrong.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/privacy/delete", {"password": DEFAULT_PASSWORD, "reason": "x"})
    alice.refresh_from_db()
    assert alice.deletion_scheduled_at is not None
    html = client.get("/settings/privacy/").content.decode()
    assert 'data-testid="deletion-scheduled"' in html and 'data-testid="deletion-cancel"' in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/privacy/delete/cancel")
    alice.refresh_from_db()
    assert alice.deletion_scheduled_at is None


def test_an_account_without_a_password_is_asked_to_type_delete(client, alice):
    alice.set_unusable_password()
    alice.save()
    client.force_login(alice)
    html = client.get("/settings/privacy/").content.decode()
    assert 'data-testid="deletion-confirmation"' in html
    assert 'data-testid="deletion-password"' not in html
