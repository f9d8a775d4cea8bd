"""Settings pages: profile and picture, preferences, activity (the same services as the API)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User, UserPreferences

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(media_storage):
    return media_storage


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_pages_need_a_signed_in_user(client):
    for path in ("/settings/profile/", "/settings/preferences/", "/settings/activity/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_profile_page_saves_through_the_service(signed_in, alice):
    page = signed_in.get("/settings/profile/")
    assert page.status_code == 200 and b'data-testid="profile-form"' in page.content
    response = signed_in.post(
        "/settings/profile/",
        {"name": "Alice Q", "email": alice.email, "bio": "", "location": "Oslo"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.name, alice.location) == ("Alice Q", "Oslo")


def test_the_profile_page_shows_a_taken_email_on_the_field(signed_in, alice, bob):
    response = signed_in.post(
        "/settings/profile/", {"name": "A", "email": bob.email, "bio": "", "location": ""}
    )
    assert response.status_code == 200 and b"already exists" in response.content
    assert User.objects.get(pk=alice.pk).email == alice.email


def test_uploading_and_removing_a_picture(signed_in, alice):
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 120, 200)).save(out, format="JPEG")
    upload = SimpleUploadedFile("me.jpg", out.getvalue(), content_type="image/jpeg")
    assert signed_in.post("/settings/profile/avatar", {"avatar": upload}).status_code == 302
    alice.refresh_from_db()
    assert alice.avatar.endswith(".png")
    page = signed_in.get("/settings/profile/")
    assert b'data-testid="avatar-image"' in page.content
    signed_in.post("/settings/profile/avatar", {"remove": "1"})
    alice.refresh_from_db()
    assert alice.avatar == ""


def test_a_fake_picture_is_refused_with_a_message(signed_in, alice):
    upload = SimpleUploadedFile("me.png", b"not an image", content_type="image/png")
    response = signed_in.post("/settings/profile/avatar", {"avatar": upload}, follow=True)
    assert b"JPEG, PNG, GIF or WebP" in response.content
    assert User.objects.get(pk=alice.pk).avatar == ""


def test_the_preferences_page_saves_every_field(signed_in, alice):
    assert signed_in.get("/settings/preferences/").status_code == 200
    response = signed_in.post(
        "/settings/preferences/",
        {
            "theme": "dark",
            "timezone": "Asia/Tokyo",
            "language": "ja",
            "date_format": "YYYY-MM-DD",
            "time_format": "24h",
            "security": "on",
            "weekly_digest": "on",
        },
    )
    assert response.status_code == 302
    prefs = UserPreferences.objects.get(user=alice)
    assert (prefs.theme, prefs.timezone, prefs.language, prefs.time_format) == (
        "dark",
        "Asia/Tokyo",
        "ja",
        "24h",
    )
    assert prefs.email_notifications == {
        "marketing": False,
        "security": True,
        "updates": False,
        "weekly_digest": True,
    }


def test_the_activity_page_lists_own_entries(signed_in, alice, bob):
    from security.services import audit_record

    audit_record(actor=alice, action="profile_update", target_type="user", target_id=alice.pk)
    audit_record(actor=bob, action="secret_thing", target_type="user", target_id=bob.pk)
    page = signed_in.get("/settings/activity/")
    assert b"Profile update" in page.content and b"Secret thing" not in page.content
