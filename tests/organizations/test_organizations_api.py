"""Organizations, members, ownership (contract §4.2, §4.3)."""

from __future__ import annotations

import pytest

from organizations.models import Membership, Organization, OrgRole
from security.models import AuditLog

pytestmark = pytest.mark.django_db


def test_create_makes_a_free_org_with_the_creator_as_owner(as_user, alice):
    response = as_user(alice).post(
        "/api/v1/organizations", {"name": "Initech", "slug": "Initech"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert (data["name"], data["slug"], data["plan"], data["role"]) == (
        "Initech",
        "initech",
        "free",
        "owner",
    )
    org = Organization.objects.get(slug="initech")
    assert Membership.objects.get(organization=org, user=alice).role == OrgRole.OWNER
    assert AuditLog.objects.filter(action="organization_create", actor=alice).exists()


@pytest.mark.parametrize(
    "slug",
    [
        "a",
        "x" * 64,
        "-acme",
        "acme-",
        "ac--me",
        "ac me",
        "ac_me",
        "new",
        "api",
        "admin",
        "settings",
        "ünï",
        " acme",  # the slug is not trimmed: the document's pattern is the rule
        "acme\n",
        "\u212a\u212a",  # KELVIN SIGN lowercases to an ASCII k
    ],
)
def test_bad_or_reserved_slugs_are_400(as_user, alice, slug):
    response = as_user(alice).post(
        "/api/v1/organizations", {"name": "Valid", "slug": slug}, format="json"
    )
    assert response.status_code == 400 and response.json()["message"].startswith("slug: ")


@pytest.mark.parametrize("name", ["", "x", "y" * 101])
def test_bad_names_are_400(as_user, alice, name):
    response = as_user(alice).post(
        "/api/v1/organizations", {"name": name, "slug": "fine"}, format="json"
    )
    assert response.status_code == 400 and response.json()["message"].startswith("name: ")


def test_a_taken_slug_is_409_and_a_deleted_orgs_slug_is_free(as_user, alice, acme):
    client = as_user(alice)
    taken = client.post("/api/v1/organizations", {"name": "Acme 2", "slug": "acme"}, format="json")
    assert taken.status_code == 409
    assert client.delete("/api/v1/organizations/acme").status_code == 200
    again = client.post("/api/v1/organizations", {"name": "Acme 2", "slug": "acme"}, format="json")
    assert again.status_code == 201


def test_list_shows_only_my_live_orgs_with_my_role(as_user, bob, acme, globex):
    body = as_user(bob).get("/api/v1/organizations").json()
    assert [(o["slug"], o["role"]) for o in body["data"]] == [("acme", "member")]


def test_get_returns_the_org_with_my_role(as_user, bob, acme):
    data = as_user(bob).get("/api/v1/organizations/acme").json()["data"]
    assert (data["slug"], data["role"]) == ("acme", "member")


def test_outsiders_and_unknown_slugs_get_the_same_404(as_user, charlie, acme):
    client = as_user(charlie)
    hidden = client.get("/api/v1/organizations/acme")
    unknown = client.get("/api/v1/organizations/nope")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["message"] == unknown.json()["message"] == "Organization not found"


def test_update_needs_admin_and_tells_the_members(as_user, alice, bob, dave, acme):
    assert (
        as_user(bob).put("/api/v1/organizations/acme", {"name": "Nope"}, format="json").status_code
        == 403
    )
    response = as_user(dave).put("/api/v1/organizations/acme", {"name": "Acme Corp"}, format="json")
    assert response.status_code == 200 and response.json()["data"]["name"] == "Acme Corp"


def test_delete_needs_the_owner_and_cancels_invitations(as_user, alice, dave, acme):
    as_user(dave).post(
        "/api/v1/organizations/acme/members/invite", {"email": "new@example.com"}, format="json"
    )
    assert as_user(dave).delete("/api/v1/organizations/acme").status_code == 403
    assert as_user(alice).delete("/api/v1/organizations/acme").status_code == 200
    acme.refresh_from_db()
    assert acme.deleted_at is not None
    assert not acme.invitations.filter(cancelled_at__isnull=True).exists()
    assert as_user(alice).get("/api/v1/organizations/acme").status_code == 404


def test_delete_is_refused_while_a_subscription_is_live(as_user, alice, acme):
    acme.stripe_subscription_id = "sub_123"
    acme.save()
    assert as_user(alice).delete("/api/v1/organizations/acme").status_code == 409


def test_leave_works_for_members_but_not_the_last_owner(as_user, alice, bob, acme):
    last = as_user(alice).post("/api/v1/organizations/acme/leave")
    assert last.status_code == 400 and "Transfer ownership first" in last.json()["message"]
    assert as_user(bob).post("/api/v1/organizations/acme/leave").status_code == 200
    assert not Membership.objects.filter(organization=acme, user=bob).exists()
    assert as_user(bob).get("/api/v1/organizations/acme").status_code == 404


def test_transfer_ownership_swaps_roles_atomically(as_user, alice, bob, acme):
    response = as_user(alice).post(
        "/api/v1/organizations/acme/transfer-ownership", {"user_id": bob.pk}, format="json"
    )
    assert response.status_code == 200 and response.json()["data"]["role"] == "admin"
    roles = dict(Membership.objects.filter(organization=acme).values_list("user_id", "role"))
    assert roles == {alice.pk: "admin", bob.pk: "owner"}
    # the membership cache followed
    assert as_user(bob).get("/api/v1/organizations/acme").json()["data"]["role"] == "owner"


def test_transfer_to_a_non_member_is_404_and_to_oneself_400(as_user, alice, charlie, acme):
    client = as_user(alice)
    assert (
        client.post(
            "/api/v1/organizations/acme/transfer-ownership", {"user_id": charlie.pk}, format="json"
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/api/v1/organizations/acme/transfer-ownership", {"user_id": alice.pk}, format="json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/v1/organizations/acme/transfer-ownership", {"user_id": "x"}, format="json"
        ).status_code
        == 400
    )


# --- members ------------------------------------------------------------------------------------


def test_members_are_listed_for_every_member(as_user, bob, acme):
    data = as_user(bob).get("/api/v1/organizations/acme/members").json()["data"]
    assert sorted((m["email"], m["role"], m["status"]) for m in data) == [
        ("alice@example.com", "owner", "active"),
        ("bob@example.com", "member", "active"),
    ]


def test_the_member_list_has_a_constant_query_count(as_user, alice, acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from organizations.access import membership_cache_clear
    from tests.factories import MembershipFactory

    client = as_user(alice)

    def queries() -> int:
        membership_cache_clear(acme.pk, alice.pk)  # measure the same (cold) path each time
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/organizations/acme/members").status_code == 200
        # Only the list's own tables: per-process copies (settings, blocklist, token blacklist)
        # reload on timers and version stamps, which is not the list's cost.
        own = ("organizations_", "accounts_user")
        return len([q for q in captured.captured_queries if any(t in q["sql"] for t in own)])

    queries()  # warm-up: per-process settings and the like load once
    few = queries()
    for _ in range(15):
        MembershipFactory(organization=acme)
    assert queries() == few <= 6


def test_role_changes_follow_the_rules(as_user, alice, bob, dave, acme):
    url = f"/api/v1/organizations/acme/members/{bob.pk}/role"
    assert as_user(bob).put(url, {"role": "admin"}, format="json").status_code == 403
    assert as_user(dave).put(url, {"role": "admin"}, format="json").status_code == 200
    # admins cannot grant owner
    assert as_user(dave).put(url, {"role": "owner"}, format="json").status_code == 403
    # own role never
    own = as_user(dave).put(
        f"/api/v1/organizations/acme/members/{dave.pk}/role", {"role": "member"}, format="json"
    )
    assert own.status_code == 400
    assert as_user(alice).put(url, {"role": "owner"}, format="json").status_code == 200
    bad = as_user(alice).put(url, {"role": "king"}, format="json")
    assert bad.status_code == 400 and bad.json()["message"].startswith("role: ")


def test_an_org_never_loses_its_last_owner(as_user, alice, bob, acme):
    as_user(alice).put(
        f"/api/v1/organizations/acme/members/{bob.pk}/role", {"role": "owner"}, format="json"
    )
    # two owners: bob may demote alice, then nobody may demote bob
    assert (
        as_user(bob)
        .put(
            f"/api/v1/organizations/acme/members/{alice.pk}/role", {"role": "member"}, format="json"
        )
        .status_code
        == 200
    )
    assert as_user(bob).post("/api/v1/organizations/acme/leave").status_code == 400


def test_removing_members(as_user, alice, bob, dave, acme):
    assert as_user(dave).delete(f"/api/v1/organizations/acme/members/{alice.pk}").status_code == 403
    assert as_user(dave).delete(f"/api/v1/organizations/acme/members/{dave.pk}").status_code == 400
    assert as_user(dave).delete(f"/api/v1/organizations/acme/members/{bob.pk}").status_code == 200
    assert as_user(dave).delete(f"/api/v1/organizations/acme/members/{bob.pk}").status_code == 404
    assert as_user(bob).get("/api/v1/organizations/acme").status_code == 404


@pytest.mark.parametrize(
    ("path", "grow"),
    [
        ("/api/v1/organizations", "orgs"),
        ("/api/v1/organizations/acme/invitations", "invitations"),
        ("/api/v1/organizations/acme/api-keys", "keys"),
    ],
)
def test_the_other_lists_keep_a_constant_query_count(as_user, alice, acme, path, grow):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from organizations.models import Invitation
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
    from tests.organizations.conftest import make_key

    client = as_user(alice)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        own = ("organizations_", "accounts_user")
        return len([q for q in captured.captured_queries if any(t in q["sql"] for t in own)])

    queries()
    few = queries()
    for n in range(8):
        if grow == "orgs":
            MembershipFactory(organization=OrganizationFactory(), user=alice)
        elif grow == "invitations":
            Invitation.objects.create(
                organization=acme,
                email=f"i{n}@example.com",
                token_hash=f"{n:064d}",
                invited_by=UserFactory(),
                expires_at=timezone.now() + timedelta(days=1),
            )
        else:
            make_key(acme)
    assert queries() == few
