"""Regression tests from the review of the self-service and staff change: email-change
links, the last super admin, pages while impersonating, avatar limits and formats, NUL bytes."""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from PIL import Image

from accounts.auth import sessions
from accounts.models import Role, User
from tests.accounts.helpers import token_from_email
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="198.51.100.30", user_agent="pytest")


@pytest.fixture(autouse=True)
def storages(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
        "private": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


@pytest.fixture
def me(api, alice):
    api.force_authenticate(alice)
    return api


def _stored_avatar(user: User) -> Image.Image:
    user.refresh_from_db()
    with default_storage.open(user.avatar) as handle:
        image = Image.open(handle)
        image.load()
    return image


# --- bad input: 500 instead of a 4xx ------------------------------------------------------------


@pytest.mark.parametrize(
    ("links", "field"),
    [
        ({"x": "a\u0000b"}, "social_links.x"),  # the edge check names the nested value
        ({"a\u0000": "b"}, "social_links"),  # a bad key is never echoed: its container
        ('{"x": "a\\u0000b"}', "social_links"),
    ],
    ids=["nul-value", "nul-key", "nul-in-json-string"],
)
def test_social_links_with_a_nul_character_is_a_400(me, links, field):
    response = me.put("/api/v1/users/me", {"social_links": links}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}: ")


def test_staff_put_user_social_links_with_a_nul_character_is_a_400(api, staff, bob):
    api.force_authenticate(staff)
    response = api.put(f"/api/v1/users/{bob.pk}", {"social_links": {"x": "\u0000"}}, format="json")
    assert response.status_code == 400


def test_privacy_page_deletion_reason_with_a_nul_byte_is_refused_not_a_500(client, alice):
    client.force_login(alice)
    client.raise_request_exception = False
    response = client.post(
        "/settings/privacy/delete", {"password": DEFAULT_PASSWORD, "reason": "a\x00b"}
    )
    assert response.status_code == 400  # the edge check's 400 page names the field
    assert "<strong>reason</strong>" in response.content.decode()
    alice.refresh_from_db()
    assert alice.deletion_requested_at is None


# --- avatars -------------------------------------------------------------------------------------


def test_settings_page_accepts_an_avatar_up_to_5_mb(client, alice):
    client.force_login(alice)
    out = io.BytesIO()
    Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(out, format="PNG")
    assert 1024 * 1024 < len(out.getvalue()) < 5 * 1024 * 1024
    upload = io.BytesIO(out.getvalue())
    upload.name = "me.png"
    response = client.post("/settings/profile/avatar", {"avatar": upload})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.avatar


def test_a_multi_picture_jpeg_from_a_phone_camera_is_accepted(me):
    first = Image.new("RGB", (300, 200), (10, 20, 30))
    second = Image.new("RGB", (300, 200), (40, 50, 60))
    out = io.BytesIO()
    first.save(out, format="MPO", save_all=True, append_images=[second])
    assert out.getvalue()[:2] == b"\xff\xd8"  # a JPEG stream
    response = me.post("/api/v1/users/me/avatar", out.getvalue(), content_type="image/jpeg")
    assert response.status_code == 200


def test_an_exif_rotated_photo_is_stored_upright(me, alice):
    stored = Image.new("RGB", (300, 200), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 100, 300, 200))  # top red, bottom blue as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise: left blue, right red
    out = io.BytesIO()
    stored.save(out, format="JPEG", exif=exif.tobytes())
    assert (
        me.post("/api/v1/users/me/avatar", out.getvalue(), content_type="image/jpeg").status_code
        == 200
    )
    avatar = _stored_avatar(alice).convert("RGB")
    red, _green, blue = avatar.getpixel((20, 128))
    assert blue > 200 and red < 60  # the left edge is blue as displayed


# --- email change ---------------------------------------------------------------------------------


def test_changing_the_email_voids_the_verification_link_sent_to_the_previous_address(
    me, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        me.put("/api/v1/users/me", {"email": "mine@attacker.example"}, format="json")
    old_link_token = token_from_email("mine@attacker.example", "/verify-email")
    response = me.put("/api/v1/users/me", {"email": "ceo@victim.example"}, format="json")
    assert response.status_code == 200
    verify = me.get("/api/v1/auth/verify-email", {"token": old_link_token})
    assert verify.status_code == 400
    assert not User.objects.get(pk=alice.pk).email_verified


def test_the_new_address_gets_the_email_change_verify_email(
    me, alice, django_capture_on_commit_callbacks
):
    from config.emails import email_render

    with django_capture_on_commit_callbacks(execute=True):
        me.put("/api/v1/users/me", {"email": "alice.new@example.com"}, format="json")
    sent = [m for m in mail.outbox if "alice.new@example.com" in m.to]
    assert sent
    expected = email_render(
        "email_change_verify",
        {
            "user": alice,
            "verify_url": "x",
            "expires_hours": 24,
            "new_email": "alice.new@example.com",
        },
    ).subject
    assert sent[-1].subject == expected


# --- last super admin -------------------------------------------------------------------------------


def test_the_last_super_admin_cannot_schedule_their_own_deletion(api, superadmin):
    assert User.objects.filter(role=Role.SUPER_ADMIN).count() == 1
    api.force_authenticate(superadmin)
    response = api.post("/api/v1/users/me/delete", {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 400
    superadmin.refresh_from_db()
    assert superadmin.deletion_requested_at is None


def test_the_purge_never_removes_the_last_super_admin(superadmin):
    from django.utils import timezone

    from accounts.privacy import services as privacy

    User.objects.filter(pk=superadmin.pk).update(
        deletion_requested_at=timezone.now(), deletion_scheduled_at=timezone.now()
    )
    with contextlib.suppress(Exception):  # refusing (raising) is fine
        privacy.account_purge(user=superadmin)
    assert User.objects.filter(pk=superadmin.pk, role=Role.SUPER_ADMIN).exists()


# --- impersonation ----------------------------------------------------------------------------------


def test_pages_under_the_impersonation_banner_act_as_the_impersonated_user(
    client, superadmin, alice
):
    client.force_login(superadmin)
    client.cookies["auth_token"] = sessions.session_create(
        user=superadmin, meta=META, method="password"
    ).access.token
    csrf = client.get("/api/v1/csrf-token").json()["csrf_token"]
    started = client.post(
        "/api/v1/admin/impersonate",
        json.dumps({"user_id": alice.pk}),
        content_type="application/json",
        HTTP_X_CSRF_TOKEN=csrf,
    )
    assert started.status_code == 200
    assert client.get("/api/v1/users/me").json()["data"]["email"] == alice.email
    html = client.get("/settings/profile/").content.decode()
    assert "impersonation-banner" in html
    assert alice.email in html and superadmin.email not in html
