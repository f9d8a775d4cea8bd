from __future__ import annotations

import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db


def test_the_landing_page_renders_with_local_assets(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="hero-title"' in html
    assert "/static/css/keel.css" in html
    assert "<script>" not in html  # CSP: no inline scripts
    assert "http://" not in html.replace("http://testserver", "") or "cdn" not in html.lower()


def test_the_landing_page_greets_signed_in_staff_with_an_admin_link(client, staff):
    client.force_login(staff)
    html = client.get("/").content.decode()
    assert staff.display_name in html
    assert 'href="/admin/"' in html


def test_static_files_are_served(client):
    response = client.get("/static/css/keel.css")
    assert response.status_code == 200


def test_flash_messages_are_rendered(client, alice):
    from django.contrib.messages import constants

    client.force_login(alice)
    session_messages = client.session
    session_messages.save()
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest

    request = HttpRequest()
    storage = CookieStorage(request)
    storage.add(constants.SUCCESS, "Saved your changes")
    from django.http import HttpResponse

    response = HttpResponse()
    storage.update(response)
    client.cookies["messages"] = response.cookies["messages"].value
    html = client.get("/").content.decode()
    assert "Saved your changes" in html
    assert "alert-success" in html


def test_the_admin_lists_every_model():
    from django.apps import apps

    keel_apps = {"accounts", "organizations", "billing", "usage", "security", "platform"}
    unregistered = [
        m._meta.label
        for m in apps.get_models()
        if m._meta.app_label in keel_apps and m not in admin.site._registry
    ]
    assert not unregistered, f"models missing from the Django admin: {unregistered}"


def test_the_admin_shows_jobs_and_schedules(client, superadmin):
    client.force_login(superadmin)
    html = client.get("/admin/").content.decode()
    assert "/admin/django_q/schedule/" in html
    assert "/admin/django_q/success/" in html or "/admin/django_q/failure/" in html
