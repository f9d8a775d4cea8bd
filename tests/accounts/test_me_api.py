"""The signed-in user's own account (contract §3.3, §3.5): profile and email change,
preferences, password, avatar, connected accounts, activity."""

from __future__ import annotations

import io
import json

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.core.files.storage import default_storage
from PIL import Image

from accounts.models import User, UserSession
from security.models import AuditLog
from tests.accounts.helpers import last_email_to, token_from_email
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(api, alice):
    api.force_authenticate(alice)
    return api


@pytest.fixture(autouse=True)
def _media(media_storage):
    return media_storage


def image_bytes(kind="PNG", size=(300, 200), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=kind)
    return out.getvalue()


# --- profile --------------------------------------------------------------------------------------


def test_get_me_is_the_user_envelope(me, alice):
    body = me.get("/api/v1/users/me").json()
    assert body["success"] is True and body["data"]["email"] == alice.email


def test_put_and_patch_update_the_profile_ignoring_unknown_fields(me, alice):
    response = me.put(
        "/api/v1/users/me",
        {
            "name": "Alice B",
            "bio": "Hi",
            "id": 999,
            "role": "super_admin",
            "social_links": {"x": "y"},
        },
        format="json",
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["name"], data["bio"], data["role"], data["id"]) == (
        "Alice B",
        "Hi",
        "user",
        alice.pk,
    )
    assert json.loads(data["social_links"]) == {"x": "y"}
    patched = me.patch(
        "/api/v1/users/me", {"location": "Paris", "social_links": '{"a": "b"}'}, format="json"
    )
    assert patched.json()["data"]["location"] == "Paris"
    assert json.loads(patched.json()["data"]["social_links"]) == {"a": "b"}
    assert AuditLog.objects.filter(action="profile_update", actor=alice).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"bio": "x" * 501}, "bio"),
        ({"location": "x" * 256}, "location"),
        ({"email": "not-an-email"}, "email"),
        ({"social_links": "{broken"}, "social_links"),
        ({"social_links": [1, 2]}, "social_links"),
    ],
)
def test_bad_profile_fields_are_400_with_the_field(me, body, field):
    response = me.put("/api/v1/users/me", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}: ")


def test_a_taken_email_is_409(me, bob):
    response = me.put("/api/v1/users/me", {"email": bob.email.upper()}, format="json")
    assert response.status_code == 409 and response.json()["message"].startswith("email: ")


def test_a_new_email_must_be_verified_and_the_old_one_is_told(
    me, alice, django_capture_on_commit_callbacks
):
    old = alice.email
    with django_capture_on_commit_callbacks(execute=True):
        response = me.put("/api/v1/users/me", {"email": "alice.new@example.com"}, format="json")
    data = response.json()["data"]
    assert data["email"] == "alice.new@example.com" and data["email_verified"] is False
    assert "changed" in last_email_to(old).subject.lower()
    token = token_from_email("alice.new@example.com", "/verify-email")
    assert me.get("/api/v1/auth/verify-email", {"token": token}).status_code == 200
    assert User.objects.get(pk=alice.pk).email_verified


# --- preferences ------------------------------------------------------------------------------------


def test_preferences_have_defaults_created_on_first_read(me, alice):
    body = me.get("/api/v1/users/me/preferences").json()
    assert body["user_id"] == alice.pk
    assert (body["theme"], body["timezone"], body["language"]) == ("system", "UTC", "en")
    assert (body["date_format"], body["time_format"]) == ("MM/DD/YYYY", "12h")
    assert body["email_notifications"] == {
        "marketing": False,
        "security": True,
        "updates": True,
        "weekly_digest": False,
    }


def test_put_preferences_accepts_any_subset(me):
    response = me.put(
        "/api/v1/users/me/preferences",
        {"theme": "dark", "timezone": "Europe/Paris", "email_notifications": {"marketing": True}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["theme"], body["timezone"]) == ("dark", "Europe/Paris")
    assert body["email_notifications"]["marketing"] is True
    assert body["email_notifications"]["security"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"theme": "neon"},
        {"timezone": "Mars/Olympus"},
        {"language": "xx"},
        {"date_format": "YY"},
        {"time_format": "13h"},
        {"email_notifications": {"spam": True}},
        {"email_notifications": "yes"},
    ],
)
def test_bad_preferences_are_400(me, body):
    response = me.put("/api/v1/users/me/preferences", body, format="json")
    assert response.status_code == 400 and response.json()["error"] == "VALIDATION_ERROR"


# --- password ---------------------------------------------------------------------------------------


def test_password_change_checks_the_current_one_and_signs_out_other_sessions(
    api, alice, django_capture_on_commit_callbacks
):
    for _ in range(2):
        api.post(
            "/api/v1/auth/login",
            {"email": alice.email, "password": DEFAULT_PASSWORD},
            format="json",
        )
    wrong = api.put(
        "/api/v1/users/me/password",
        {"current_password": "nope", "new_password": "Another-Pass-1"},
        format="json",
    )
    assert wrong.status_code == 400 and wrong.json()["message"].startswith("current_password: ")
    mismatch = api.put(
        "/api/v1/users/me/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": "Another-Pass-1",
            "confirm_password": "x",
        },
        format="json",
    )
    assert mismatch.status_code == 400
    weak = api.put(
        "/api/v1/users/me/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "weak"},
        format="json",
    )
    assert weak.status_code == 400 and weak.json()["message"].startswith("new_password: ")
    with django_capture_on_commit_callbacks(execute=True):
        ok = api.put(
            "/api/v1/users/me/password",
            {"current_password": DEFAULT_PASSWORD, "new_password": "Another-Pass-1"},
            format="json",
        )
    assert ok.status_code == 200
    assert UserSession.objects.filter(user=alice, revoked_at__isnull=True).count() == 1
    assert User.objects.get(pk=alice.pk).check_password("Another-Pass-1")
    assert "password" in mail.outbox[-1].subject.lower()


def test_an_account_without_a_password_sets_one_without_the_current(me, alice):
    alice.set_unusable_password()
    alice.save()
    response = me.put("/api/v1/users/me/password", {"new_password": "First-Pass-12"}, format="json")
    assert response.status_code == 200


# --- avatar -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
def test_an_avatar_is_re_encoded_to_a_square_png_and_served_publicly(me, api, alice, kind):
    upload = io.BytesIO(image_bytes(kind))
    upload.name = f"me.{kind.lower()}"
    response = me.post("/api/v1/users/me/avatar", {"avatar": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    url = response.json()["data"]["avatar_url"]
    assert url.startswith(f"/api/v1/users/{alice.pk}/avatar?v=")
    alice.refresh_from_db()  # force_authenticate keeps this instance; requests reload it
    assert me.get("/api/v1/users/me").json()["data"]["avatar_url"] == url
    api.force_authenticate(None)
    served = api.get(url)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["Cache-Control"] == "public, max-age=86400"
    picture = Image.open(io.BytesIO(b"".join(served.streaming_content)))
    assert picture.format == "PNG" and picture.size == (256, 256)


def test_a_raw_image_body_and_a_mislabelled_multipart_body_are_accepted(me):
    raw = me.post("/api/v1/users/me/avatar", image_bytes("JPEG"), content_type="image/jpeg")
    assert raw.status_code == 200
    boundary = "----keelboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    # The React client posts avatars with Content-Type: application/json (contract §0.11).
    response = me.post("/api/v1/users/me/avatar", body, content_type="application/json")
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"GIF89a not really a gif", "image/gif"),
        (b"%PDF-1.4 pretending", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (b"{}", "application/json"),
    ],
)
def test_what_is_not_an_image_is_refused_and_nothing_changes(me, alice, payload, content_type):
    response = me.post("/api/v1/users/me/avatar", payload, content_type=content_type)
    assert response.status_code == 400 and response.json()["message"].startswith("avatar: ")
    assert User.objects.get(pk=alice.pk).avatar == ""


def test_an_oversized_avatar_is_413(me):
    response = me.post(
        "/api/v1/users/me/avatar", b"x" * (5 * 1024 * 1024 + 1), content_type="image/png"
    )
    assert response.status_code == 413 and response.json()["error"] == "REQUEST_TOO_LARGE"


def test_deleting_the_avatar_removes_the_file(me, alice, django_capture_on_commit_callbacks):
    me.post("/api/v1/users/me/avatar", image_bytes(), content_type="image/png")
    path = User.objects.get(pk=alice.pk).avatar
    with django_capture_on_commit_callbacks(execute=True):
        assert me.delete("/api/v1/users/me/avatar").status_code == 200
    assert User.objects.get(pk=alice.pk).avatar == "" and not default_storage.exists(path)
    assert me.get(f"/api/v1/users/{alice.pk}/avatar").status_code == 404


# --- connected accounts, activity ------------------------------------------------------------------


def test_connected_accounts_are_listed_and_unlinked(me, alice):
    SocialAccount.objects.create(
        user=alice, provider="github", uid="77", extra_data={"email": "a@gh.example"}
    )
    listed = me.get("/api/v1/users/me/connected-accounts").json()
    assert listed == [
        {
            "provider": "github",
            "provider_user_id": "77",
            "email": "a@gh.example",
            "connected_at": listed[0]["connected_at"],
        }
    ]
    assert me.delete("/api/v1/users/me/connected-accounts/github").status_code == 200
    assert me.delete("/api/v1/users/me/connected-accounts/github").status_code == 404
    assert me.delete("/api/v1/users/me/connected-accounts/myspace").status_code == 404


def test_activity_lists_own_audit_entries_without_login_changes(me, alice, bob):
    from security.services import audit_record

    audit_record(
        actor=alice, action="login", target_type="user", target_id=alice.pk, changes={"x": 1}
    )
    audit_record(
        actor=alice,
        action="profile_update",
        target_type="user",
        target_id=alice.pk,
        changes={"name": ["a", "b"]},
    )
    audit_record(actor=bob, action="profile_update", target_type="user", target_id=bob.pk)
    body = me.get("/api/v1/users/me/activity", {"limit": 1}).json()
    assert body["count"] == 1 and body["total"] == 2
    assert body["activities"][0]["action"] == "profile_update" and body["activities"][0]["changes"]
    login = me.get("/api/v1/users/me/activity").json()["activities"][1]
    assert login["action"] == "login" and "changes" not in login
    assert me.get("/api/v1/users/me/activity", {"limit": "abc"}).status_code == 200


def test_every_me_route_needs_authentication(api):
    for method, path in [
        ("get", "/api/v1/users/me"),
        ("put", "/api/v1/users/me"),
        ("get", "/api/v1/users/me/preferences"),
        ("put", "/api/v1/users/me/password"),
        ("post", "/api/v1/users/me/avatar"),
        ("get", "/api/v1/users/me/connected-accounts"),
        ("get", "/api/v1/users/me/activity"),
    ]:
        assert getattr(api, method)(path).status_code == 401, path
