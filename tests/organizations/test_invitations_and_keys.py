"""Invitations with seats (contract §4.2, §4.3) and org API keys (§4.4)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from organizations.models import Invitation, Membership, Organization, OrgAPIKey
from tests.accounts.helpers import token_from_email
from tests.factories import MembershipFactory, UserFactory
from tests.organizations.conftest import make_key

pytestmark = pytest.mark.django_db


def invite(client, email, role="member", slug="acme"):
    return client.post(
        f"/api/v1/organizations/{slug}/members/invite",
        {"email": email, "role": role},
        format="json",
    )


def test_an_invitation_is_emailed_with_a_hashed_token_and_accepted(
    as_user, alice, django_capture_on_commit_callbacks, acme
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(as_user(alice), "Erin@Example.com", "admin")
    assert response.status_code == 201
    data = response.json()["data"]
    assert (data["email"], data["role"], data["invited_by"]) == (
        "erin@example.com",
        "admin",
        alice.name,
    )
    token = token_from_email("erin@example.com", "/invitations/accept")
    invitation = Invitation.objects.get(email="erin@example.com")
    assert token not in invitation.token_hash
    erin = UserFactory(email="erin@example.com")
    accepted = as_user(erin).post(f"/api/v1/invitations/accept?token={token}")
    assert accepted.status_code == 200
    assert accepted.json()["data"]["slug"] == "acme" and accepted.json()["data"]["role"] == "admin"
    assert Membership.objects.get(organization=acme, user=erin).role == "admin"
    again = as_user(erin).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert again.status_code == 400


def accept_token(as_user, alice, django_capture_on_commit_callbacks, email="erin@example.com"):
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(as_user(alice), email).status_code == 201
    return token_from_email(email, "/invitations/accept")


def test_accepting_with_another_address_is_403(
    as_user, alice, bob, django_capture_on_commit_callbacks, acme
):
    token = accept_token(as_user, alice, django_capture_on_commit_callbacks)
    response = as_user(bob).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert response.status_code == 403


def test_unknown_tokens_are_404_and_expired_ones_400(
    as_user, alice, django_capture_on_commit_callbacks, acme, time_machine
):
    erin = UserFactory(email="erin@example.com")
    assert (
        as_user(erin)
        .post("/api/v1/invitations/accept", {"token": "nope"}, format="json")
        .status_code
        == 404
    )
    assert as_user(erin).post("/api/v1/invitations/accept").status_code == 404
    token = accept_token(as_user, alice, django_capture_on_commit_callbacks)
    time_machine.move_to(timezone.now() + timedelta(days=7, seconds=1))
    expired = as_user(erin).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert expired.status_code == 400 and "expired" in expired.json()["message"]


def test_declining_needs_no_sign_in_and_blocks_accepting(
    api, as_user, alice, django_capture_on_commit_callbacks, acme
):
    token = accept_token(as_user, alice, django_capture_on_commit_callbacks)
    api.force_authenticate(None)
    assert api.post(f"/api/v1/invitations/decline?token={token}").status_code == 200
    assert api.post(f"/api/v1/invitations/decline?token={token}").status_code == 400
    erin = UserFactory(email="erin@example.com")
    assert (
        as_user(erin)
        .post("/api/v1/invitations/accept", {"token": token}, format="json")
        .status_code
        == 400
    )


def test_inviting_a_member_or_a_pending_address_is_409(as_user, alice, acme):
    client = as_user(alice)
    assert invite(client, "BOB@example.com").status_code == 409
    assert invite(client, "new@example.com").status_code == 201
    assert invite(client, "new@example.com").status_code == 409


@pytest.mark.parametrize(
    ("email", "role"), [("bad", "member"), ("x@example.com", "owner"), ("x@example.com", "god")]
)
def test_bad_invitations_are_400(as_user, alice, acme, email, role):
    assert invite(as_user(alice), email, role).status_code == 400


def test_seats_count_members_and_pending_invitations(as_user, alice, acme):
    # free plan: 5 seats; alice + bob are 2
    client = as_user(alice)
    for n in range(3):
        assert invite(client, f"p{n}@example.com").status_code == 201
    refused = invite(client, "p4@example.com")
    assert refused.status_code == 402 and refused.json()["error"] == "SEAT_LIMIT_REACHED"
    assert refused.json()["message"] == (
        "Seat limit reached for the free plan (5 seats). Upgrade to add members."
    )


def test_accepting_is_refused_when_the_org_is_full(
    as_user, alice, django_capture_on_commit_callbacks, acme
):
    token = accept_token(as_user, alice, django_capture_on_commit_callbacks)
    for _ in range(3):
        MembershipFactory(organization=acme)
    erin = UserFactory(email="erin@example.com")
    response = as_user(erin).post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert response.status_code == 402 and response.json()["error"] == "SEAT_LIMIT_REACHED"


def test_invitations_are_listed_revoked_and_resent_by_admins(
    as_user, alice, bob, dave, acme, django_capture_on_commit_callbacks
):
    invite(as_user(dave), "new@example.com")
    assert as_user(bob).get("/api/v1/organizations/acme/invitations").status_code == 403
    listed = as_user(dave).get("/api/v1/organizations/acme/invitations").json()["data"]
    assert [i["email"] for i in listed] == ["new@example.com"]
    pk = listed[0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            as_user(dave).post(f"/api/v1/organizations/acme/invitations/{pk}/resend").status_code
            == 200
        )
    assert token_from_email("new@example.com", "/invitations/accept")
    assert as_user(dave).delete(f"/api/v1/organizations/acme/invitations/{pk}").status_code == 200
    assert as_user(dave).delete(f"/api/v1/organizations/acme/invitations/{pk}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_concurrent_accepts_of_one_invitation_make_one_membership(alice, bob):
    from organizations.access import OrgActor
    from organizations.services import invitation_accept, invitation_create, invitation_token_issue

    acme = Organization.objects.create(name="Acme", slug="acme")
    Membership.objects.create(organization=acme, user=alice, role="owner")
    invitation = invitation_create(
        actor=OrgActor(organization=acme, role="owner", user=alice),
        email="erin@example.com",
        role="member",
    )
    token = invitation_token_issue(invitation=invitation)
    erin = UserFactory(email="erin@example.com")
    results: list[str] = []
    barrier = threading.Barrier(2)

    def accept() -> None:
        barrier.wait()
        try:
            invitation_accept(token=token, user=erin)
            results.append("ok")
        except Exception as exc:
            results.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["BadRequest", "ok"]
    assert Membership.objects.filter(organization=acme, user=erin).count() == 1


# --- API keys -----------------------------------------------------------------------------------


def keyed(raw, header="bearer"):
    client = APIClient(enforce_csrf_checks=True)
    if header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    else:
        client.credentials(HTTP_X_API_KEY=raw)
    return client


def test_a_key_is_shown_once_stored_hashed_and_listed_without_it(as_user, dave, acme):
    response = as_user(dave).post(
        "/api/v1/organizations/acme/api-keys", {"name": "CI", "role": "admin"}, format="json"
    )
    assert response.status_code == 201
    data = response.json()["data"]
    raw = data["key"]
    assert raw.startswith("keel_") and len(raw) == 45 and data["prefix"] == raw[:12]
    stored = OrgAPIKey.objects.get(pk=data["id"])
    assert raw not in stored.key_hash
    listed = as_user(dave).get("/api/v1/organizations/acme/api-keys").json()["data"]
    assert [k["name"] for k in listed] == ["CI"] and "key" not in listed[0]


def test_a_key_acts_as_a_member_with_its_role_through_either_header(acme):
    _, member_raw = make_key(acme)
    for header in ("bearer", "x-api-key"):
        client = keyed(member_raw, header)
        assert client.get("/api/v1/organizations/acme/members").status_code == 200
        assert (
            client.put("/api/v1/organizations/acme", {"name": "Hacked"}, format="json").status_code
            == 403
        )
    _, admin_raw = make_key(acme, "admin")
    ok = keyed(admin_raw).put("/api/v1/organizations/acme", {"name": "Acme Inc"}, format="json")
    assert ok.status_code == 200  # no CSRF token needed


def test_a_key_is_refused_outside_its_org_and_on_user_or_key_routes(acme, globex):
    _, raw = make_key(acme, "admin")
    client = keyed(raw)
    assert client.get("/api/v1/organizations/globex").status_code == 404
    assert client.get("/api/v1/users/me").status_code == 403
    assert client.get("/api/v1/organizations").status_code == 403
    assert client.get("/api/v1/organizations/acme/api-keys").status_code == 403
    assert client.post("/api/v1/organizations/acme/leave").status_code == 403
    assert client.delete("/api/v1/organizations/acme").status_code == 403


def test_revoked_unknown_and_expired_keys_are_refused_at_once(as_user, alice, acme, time_machine):
    key, raw = make_key(acme, expires_at=timezone.now() + timedelta(hours=1))
    assert keyed(raw).get("/api/v1/organizations/acme").status_code == 200
    unknown = keyed("keel_" + "x" * 40).get("/api/v1/organizations/acme")
    assert unknown.status_code == 401 and unknown.json()["error"] == "TOKEN_INVALID"
    time_machine.move_to(timezone.now() + timedelta(hours=2))
    expired = keyed(raw).get("/api/v1/organizations/acme")
    assert expired.status_code == 401 and expired.json()["error"] == "TOKEN_EXPIRED"
    time_machine.move_to(timezone.now() - timedelta(hours=2))
    assert as_user(alice).delete(f"/api/v1/organizations/acme/api-keys/{key.pk}").status_code == 200
    revoked = keyed(raw).get("/api/v1/organizations/acme")
    assert revoked.status_code == 401 and revoked.json()["error"] == "TOKEN_INVALID"


def test_key_inputs_are_validated(as_user, alice, acme):
    client = as_user(alice)
    for body in (
        {"name": ""},
        {"name": "x", "role": "owner"},
        {"name": "x", "expires_at": "2000-01-01T00:00:00Z"},
    ):
        assert (
            client.post("/api/v1/organizations/acme/api-keys", body, format="json").status_code
            == 400
        )
    assert client.delete("/api/v1/organizations/acme/api-keys/999").status_code == 404


def test_last_used_is_recorded_at_most_once_a_minute(acme, time_machine):
    time_machine.move_to("2026-11-25 10:00:05", tick=False)
    key, raw = make_key(acme)
    keyed(raw).get("/api/v1/organizations/acme")
    first = OrgAPIKey.objects.get(pk=key.pk).last_used_at
    time_machine.shift(30)
    keyed(raw).get("/api/v1/organizations/acme")
    assert OrgAPIKey.objects.get(pk=key.pk).last_used_at == first
    time_machine.shift(31)  # the next minute (also with Redis, whose TTLs run on real time)
    keyed(raw).get("/api/v1/organizations/acme")
    assert OrgAPIKey.objects.get(pk=key.pk).last_used_at > first
