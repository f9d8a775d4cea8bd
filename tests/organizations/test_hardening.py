"""Regression tests from the review of the organizations change: slugs that cannot exist,
keys of deleted organizations, cache races, admin edits, ownership of inactive accounts."""

from __future__ import annotations

import pytest
from django.core.cache import cache as real_cache
from rest_framework.test import APIClient

import organizations.access as access
from organizations.access import OrgActor
from organizations.models import Invitation, Membership, OrgRole
from organizations.services import member_remove
from tests.organizations.conftest import make_key

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_nul_byte_in_org_slug_path_is_400_not_500(as_user, alice, acme):
    response = as_user(alice).get("/api/v1/organizations/ac%00me")
    assert response.status_code == 400
    assert response.json()["details"][0] == {
        "field": "slug",
        "message": "Contains characters that are not allowed",
        "code": "invalid_characters",
    }


def test_org_api_key_is_refused_at_once_after_its_org_is_deleted(api, alice, acme):
    _, raw = make_key(acme, OrgRole.ADMIN)
    assert api.get("/api/v1/organizations/acme/members", HTTP_X_API_KEY=raw).status_code == 200
    assert _client(alice).delete("/api/v1/organizations/acme").status_code == 200
    response = api.get("/api/v1/organizations/acme/members", HTTP_X_API_KEY=raw)
    assert response.status_code == 401


def test_old_org_key_cannot_write_after_its_org_is_deleted_and_slug_reused(
    api, alice, charlie, acme
):
    _, raw = make_key(acme, OrgRole.ADMIN)
    assert api.get("/api/v1/organizations/acme", HTTP_X_API_KEY=raw).status_code == 200
    assert _client(alice).delete("/api/v1/organizations/acme").status_code == 200
    created = _client(charlie).post(
        "/api/v1/organizations", {"name": "New Acme", "slug": "acme"}, format="json"
    )
    assert created.status_code == 201
    response = api.post(
        "/api/v1/organizations/acme/members/invite",
        {"email": "zed@example.com"},
        HTTP_X_API_KEY=raw,
        format="json",
    )
    assert response.status_code == 401
    assert not Invitation.objects.filter(organization=acme).exists()


def test_removed_member_loses_access_even_if_a_concurrent_request_refilled_the_cache(
    as_user, alice, bob, acme, monkeypatch
):
    class InterleavedCache:
        fired = False

        def get(self, *args, **kwargs):
            return real_cache.get(*args, **kwargs)

        def delete(self, *args, **kwargs):
            return real_cache.delete(*args, **kwargs)

        def add(self, *args, **kwargs):
            return real_cache.add(*args, **kwargs)

        def incr(self, *args, **kwargs):
            return real_cache.incr(*args, **kwargs)

        def set(self, key, value, timeout=None):
            if not InterleavedCache.fired:  # the removal commits between the read and the set
                InterleavedCache.fired = True
                owner = OrgActor(organization=acme, role=OrgRole.OWNER, user=alice)
                member_remove(actor=owner, user_id=bob.pk)
            return real_cache.set(key, value, timeout=timeout)

    monkeypatch.setattr(access, "cache", InterleavedCache())
    as_user(bob).get("/api/v1/organizations/acme/members")  # in flight during the removal
    monkeypatch.setattr(access, "cache", real_cache)
    assert not Membership.objects.filter(organization=acme, user=bob).exists()
    response = as_user(bob).get("/api/v1/organizations/acme/members")
    assert response.status_code == 404


def test_deleting_a_membership_in_django_admin_revokes_access_at_once(
    client, superadmin, bob, acme, as_user
):
    assert as_user(bob).get("/api/v1/organizations/acme").status_code == 200
    membership = Membership.objects.get(organization=acme, user=bob)
    client.force_login(superadmin)
    refused = client.post(
        f"/admin/organizations/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert refused.status_code == 403
    client.post(
        "/admin/organizations/membership/",
        {"action": "remove_members", "_selected_action": [membership.pk]},
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert as_user(bob).get("/api/v1/organizations/acme").status_code == 404


def test_ownership_cannot_be_transferred_to_a_deactivated_user(as_user, alice, bob, acme):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    response = as_user(alice).post(
        "/api/v1/organizations/acme/transfer-ownership", {"user_id": bob.pk}, format="json"
    )
    assert response.status_code in (400, 404)
    assert Membership.objects.get(organization=acme, user=alice).role == OrgRole.OWNER
