"""Two-factor authentication (contract §2.1 step 5, §3.4, §13.3, §13.5)."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail

from accounts.auth.two_factor import two_factor_enabled
from accounts.models import BackupCode, LoginHistory, TOTPDevice, User, UserSession
from security.models import AuditLog
from tests.accounts.helpers import enrol, totp_code
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(time_machine):
    """Time stands still in the middle of a 30 s TOTP step."""
    import time

    time_machine.move_to((int(time.time()) // 30 + 1) * 30 + 10, tick=False)
    return time_machine


def login(api, code=None, email="alice@example.com", path="/api/v1/auth/login"):
    body = {"email": email, "password": DEFAULT_PASSWORD}
    if code is not None:
        body["otp_code"] = code
    return api.post(path, body, format="json")


def setup_and_enable(api, user, django_capture_on_commit_callbacks, frozen):
    setup = api.post("/api/v1/users/me/2fa/setup").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/users/me/2fa/verify", {"code": totp_code(user)}, format="json")
    assert response.status_code == 200, response.json()
    return setup, response.json()["backup_codes"]


# --- enrolment ---------------------------------------------------------------------------------


def test_setup_returns_a_secret_a_png_qr_code_and_the_otpauth_uri(api, alice):
    api.force_authenticate(alice)
    response = api.post("/api/v1/users/me/2fa/setup")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"secret", "qr_code", "qr_code_url", "otpauth_url"}
    assert base64.b64decode(body["qr_code"]).startswith(b"\x89PNG")
    assert body["qr_code_url"] == body["otpauth_url"]
    uri = urlparse(body["otpauth_url"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert "alice@example.com" in uri.path
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]]
    assert len(base64.b32decode(body["secret"] + "=" * (-len(body["secret"]) % 8))) == 20
    assert not two_factor_enabled(alice)


def test_the_secret_is_stored_encrypted(api, alice):
    api.force_authenticate(alice)
    secret = api.post("/api/v1/users/me/2fa/setup").json()["secret"]
    device = TOTPDevice.objects.get(user=alice)
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    assert raw.hex() not in device.encrypted_secret and secret not in device.encrypted_secret
    assert device.secret == raw


def test_verify_enables_2fa_and_returns_ten_backup_codes_stored_hashed(
    api, alice, django_capture_on_commit_callbacks, frozen
):
    api.force_authenticate(alice)
    _, codes = setup_and_enable(api, alice, django_capture_on_commit_callbacks, frozen)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", c) for c in codes)
    stored = list(BackupCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}
    status = api.get("/api/v1/users/me/2fa/status").json()
    assert status["enabled"] is True and status["backup_codes_remaining"] == 10
    assert status["verified_at"]
    assert api.get("/api/v1/auth/me").json()["data"]["two_factor_enabled"] is True
    assert AuditLog.objects.filter(action="two_factor_enable", actor=alice).exists()
    assert any("two-factor" in m.subject.lower() for m in mail.outbox)


def test_a_second_setup_replaces_an_unconfirmed_one_and_is_refused_once_enabled(
    api, alice, django_capture_on_commit_callbacks, frozen
):
    api.force_authenticate(alice)
    first = api.post("/api/v1/users/me/2fa/setup").json()["secret"]
    second = api.post("/api/v1/users/me/2fa/setup").json()["secret"]
    assert first != second and TOTPDevice.objects.filter(user=alice).count() == 1
    api.post("/api/v1/users/me/2fa/verify", {"code": totp_code(alice)}, format="json")
    response = api.post("/api/v1/users/me/2fa/setup")
    assert response.status_code == 409 and response.json()["error"] == "CONFLICT"


def test_verify_without_a_pending_setup_is_400(api, alice):
    api.force_authenticate(alice)
    response = api.post("/api/v1/users/me/2fa/verify", {"code": "123456"}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "BAD_REQUEST"


def test_a_wrong_code_at_verify_is_400_otp_invalid_and_leaves_2fa_off(api, alice, frozen):
    api.force_authenticate(alice)
    api.post("/api/v1/users/me/2fa/setup")
    wrong = f"{(int(totp_code(alice)) + 1) % 1_000_000:06d}"
    response = api.post("/api/v1/users/me/2fa/verify", {"code": wrong}, format="json")
    assert response.status_code == 400 and response.json()["error"] == "OTP_INVALID"
    assert not two_factor_enabled(alice)
    missing = api.post("/api/v1/users/me/2fa/verify", {}, format="json")
    assert missing.status_code == 400 and missing.json()["error"] == "VALIDATION_ERROR"


def test_2fa_routes_need_authentication(api):
    for path in ("setup", "verify", "disable", "backup-codes"):
        assert api.post(f"/api/v1/users/me/2fa/{path}").status_code == 401
    assert api.get("/api/v1/users/me/2fa/status").status_code == 401


# --- login -------------------------------------------------------------------------------------


def test_login_without_a_code_is_otp_required_with_no_session_or_history(api, alice, frozen):
    enrol(alice)
    response = login(api)
    assert response.status_code == 401
    assert response.json()["error"] == "OTP_REQUIRED"
    assert response.json()["message"] == "Two-factor authentication code required"
    assert "auth_token" not in response.cookies
    assert not UserSession.objects.filter(user=alice).exists()
    assert not LoginHistory.objects.filter(user=alice).exists()


def test_login_with_the_totp_code_signs_in_with_method_2fa(api, alice, frozen):
    enrol(alice)
    response = login(api, totp_code(alice))
    assert response.status_code == 200 and response.cookies["auth_token"].value
    assert UserSession.objects.get(user=alice).auth_method == "2fa"
    assert LoginHistory.objects.get(user=alice).auth_method == "2fa"


def test_the_token_api_enforces_2fa_too(api, alice, frozen):
    enrol(alice)
    assert login(api, path="/api/v1/auth/token").json()["error"] == "OTP_REQUIRED"
    response = login(api, totp_code(alice), path="/api/v1/auth/token")
    assert response.status_code == 200 and response.json()["refresh_token"]


def test_a_code_from_the_neighbouring_step_is_accepted_but_never_twice(api, alice, frozen):
    enrol(alice)
    code = totp_code(alice, offset_steps=-1)
    assert login(api, code).status_code == 200
    replay = login(api, code)
    assert replay.status_code == 401 and replay.json()["error"] == "OTP_INVALID"
    assert login(api, totp_code(alice, offset_steps=2)).json()["error"] == "OTP_INVALID"


def test_a_wrong_code_is_otp_invalid_and_recorded(api, alice, frozen):
    enrol(alice)
    response = login(api, "000000" if totp_code(alice) != "000000" else "111111")
    assert response.status_code == 401 and response.json()["error"] == "OTP_INVALID"
    entry = LoginHistory.objects.get(user=alice)
    assert (entry.success, entry.failure_reason, entry.auth_method) == (False, "2fa_failed", "2fa")


def test_the_password_is_checked_before_the_code(api, alice, frozen):
    enrol(alice)
    response = api.post(
        "/api/v1/auth/login",
        {"email": "alice@example.com", "password": "wrong", "otp_code": totp_code(alice)},
        format="json",
    )
    assert response.status_code == 401 and response.json()["error"] == "UNAUTHORIZED"


def test_a_backup_code_signs_in_once_in_any_case_and_without_the_dash(
    api, alice, django_capture_on_commit_callbacks, frozen
):
    api.force_authenticate(alice)
    _, codes = setup_and_enable(api, alice, django_capture_on_commit_callbacks, frozen)
    api.force_authenticate(None)
    assert login(api, codes[0].lower()).status_code == 200
    assert login(api, codes[0]).json()["error"] == "OTP_INVALID"
    assert login(api, codes[1].replace("-", "")).status_code == 200
    assert BackupCode.objects.filter(user=alice, used_at__isnull=True).count() == 8


def test_five_wrong_codes_lock_2fa_for_15_minutes_even_for_the_right_code(api, alice, frozen):
    enrol(alice)
    wrong = "000000" if totp_code(alice) != "000000" else "111111"
    codes = [login(api, wrong).status_code for _ in range(5)]
    assert codes == [401] * 5
    locked = login(api, totp_code(alice))
    assert locked.status_code == 429 and locked.json()["error"] == "ACCOUNT_LOCKED"
    assert 840 <= int(locked["Retry-After"]) <= 900
    frozen.shift(15 * 60 + 1)
    assert login(api, totp_code(alice)).status_code == 200


def test_wrong_codes_on_the_2fa_routes_count_toward_the_same_lockout(api, alice, frozen):
    enrol(alice)
    api.force_authenticate(alice)
    wrong = "000000" if totp_code(alice) != "000000" else "111111"
    for _ in range(5):
        response = api.post("/api/v1/users/me/2fa/disable", {"code": wrong}, format="json")
        assert response.status_code == 400 and response.json()["error"] == "OTP_INVALID"
    response = api.post("/api/v1/users/me/2fa/disable", {"code": totp_code(alice)}, format="json")
    assert response.status_code == 429 and response.json()["error"] == "ACCOUNT_LOCKED"
    assert two_factor_enabled(alice)


def test_a_right_code_resets_the_count(api, alice, frozen):
    enrol(alice)
    wrong = "000000" if totp_code(alice) != "000000" else "111111"
    for _ in range(4):
        login(api, wrong)
    assert login(api, totp_code(alice)).status_code == 200
    frozen.shift(30)
    for _ in range(4):
        assert login(api, wrong).status_code == 401
    assert login(api, totp_code(alice)).status_code == 200


# --- disable and regenerate ---------------------------------------------------------------------


def test_disable_with_a_totp_code_turns_2fa_off(
    api, alice, django_capture_on_commit_callbacks, frozen
):
    api.force_authenticate(alice)
    setup_and_enable(api, alice, django_capture_on_commit_callbacks, frozen)
    frozen.shift(30)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/users/me/2fa/disable", {"code": totp_code(alice)}, format="json"
        )
    assert response.status_code == 200 and response.json()["success"] is True
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not BackupCode.objects.filter(user=alice).exists()
    assert AuditLog.objects.filter(action="two_factor_disable").exists()
    api.force_authenticate(None)
    assert login(api).status_code == 200


def test_disable_with_a_backup_code_works(api, alice, django_capture_on_commit_callbacks, frozen):
    api.force_authenticate(alice)
    _, codes = setup_and_enable(api, alice, django_capture_on_commit_callbacks, frozen)
    response = api.post("/api/v1/users/me/2fa/disable", {"code": codes[3]}, format="json")
    assert response.status_code == 200
    assert not two_factor_enabled(User.objects.get(pk=alice.pk))


def test_disable_when_not_enabled_is_400(api, alice):
    api.force_authenticate(alice)
    response = api.post("/api/v1/users/me/2fa/disable", {"code": "123456"}, format="json")
    assert response.status_code == 400


def test_regenerating_backup_codes_voids_the_old_ones(
    api, alice, django_capture_on_commit_callbacks, frozen
):
    api.force_authenticate(alice)
    _, old = setup_and_enable(api, alice, django_capture_on_commit_callbacks, frozen)
    response = api.post("/api/v1/users/me/2fa/backup-codes", {"code": old[0]}, format="json")
    assert response.status_code == 200
    new = response.json()["backup_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    api.force_authenticate(None)
    assert login(api, old[1]).json()["error"] == "OTP_INVALID"
    assert login(api, new[0]).status_code == 200


# --- require_2fa_for_admins ---------------------------------------------------------------------


def test_staff_without_2fa_are_refused_staff_routes_when_the_setting_is_on(api, client, staff):
    from security.services import system_settings_update

    api.force_authenticate(staff)
    assert api.get("/api/v1/admin/settings").status_code == 200
    system_settings_update(values={"require_2fa_for_admins": True}, actor=staff)
    response = api.get("/api/v1/admin/settings")
    assert response.status_code == 403 and response.json()["error"] == "FORBIDDEN"
    assert response.json()["message"] == (
        "Two-factor authentication must be enabled for admin access"
    )
    assert api.get("/api/v1/users/me/2fa/status").status_code == 200  # own routes still work
    client.force_login(staff)
    page = client.get("/admin/")
    assert page.status_code == 403
    assert b"Two-factor authentication must be enabled" in page.content
    enrol(staff)
    assert api.get("/api/v1/admin/settings").status_code == 200
    assert client.get("/admin/").status_code == 200
