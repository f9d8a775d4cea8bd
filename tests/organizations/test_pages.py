"""Organization pages (contract §0.1 `/org/new`, `/org/<slug>/…`, `/invitations/accept?token=`):
access per role (outsiders 404, members below a page's role 403), forms that call the services,
the API key shown once, the org switcher, and every case of the invitation page.

The cast: alice owns acme, bob is a member, dave its admin, charlie an outsider (owner of
globex)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.base import SessionBase
from django.core import mail
from django.test import Client
from django.utils import timezone

from organizations import services
from organizations.access import OrgActor
from organizations.models import Invitation, Membership, Organization, OrgAPIKey, OrgRole
from security.crypto import token_hash
from tests.accounts.helpers import token_from_email
from tests.factories import DEFAULT_PASSWORD, MembershipFactory, UserFactory
from tests.test_account_pages import assert_keel_html

pytestmark = pytest.mark.django_db

SWITCHER = "organizations.context_processors.org_switcher"
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _switcher_context_processor(settings):
    """What config/settings.py gets: the org switcher's context processor."""
    templates = [dict(engine) for engine in settings.TEMPLATES]
    options = dict(templates[0]["OPTIONS"])
    if SWITCHER not in options["context_processors"]:
        options["context_processors"] = [*options["context_processors"], SWITCHER]
    templates[0]["OPTIONS"] = options
    settings.TEMPLATES = templates


@pytest.fixture
def cast(alice, bob, dave, charlie, acme, globex):
    return {"owner": alice, "admin": dave, "member": bob, "outsider": charlie}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(response, status: int = 200) -> str:
    assert response.status_code == status, (response.status_code, response.content[:500])
    html = response.content.decode()
    assert_keel_html(html)
    assert not STYLE_ATTR.search(html), STYLE_ATTR.search(html)  # CSP: no style attributes
    return html


def has_testid(html: str, name: str) -> bool:
    return f'data-testid="{name}"' in html


def owner_actor(org, user) -> OrgActor:
    return OrgActor(organization=org, role=OrgRole.OWNER, user=user)


def invite(org, inviter, email: str, role: str = OrgRole.MEMBER) -> tuple[Invitation, str]:
    """A pending invitation and a working link token (as the email job would issue)."""
    invitation = services.invitation_create(actor=owner_actor(org, inviter), email=email, role=role)
    return invitation, services.invitation_token_issue(invitation=invitation)


# --- Access: every page × owner / admin / member / outsider -----------------------------------

PAGES = {
    "": OrgRole.MEMBER,
    "members/": OrgRole.MEMBER,
    "danger/": OrgRole.MEMBER,
    "settings/": OrgRole.ADMIN,
    "invitations/": OrgRole.ADMIN,
    "api-keys/": OrgRole.ADMIN,
}
LEVEL = {"member": 1, "admin": 2, "owner": 3}


@pytest.mark.parametrize("caller", ["owner", "admin", "member", "outsider"])
@pytest.mark.parametrize("suffix", list(PAGES))
def test_it_serves_each_page_by_role_and_hides_the_org_from_outsiders(cast, caller, suffix):
    response = signed_in(cast[caller]).get(f"/org/acme/{suffix}")
    if caller == "outsider":
        html = page(response, 404)
        assert "Acme" not in html
    elif LEVEL[caller] < LEVEL[PAGES[suffix]]:
        html = page(response, 403)
        assert "needs the admin role in Acme" in html
    else:
        html = page(response)
        assert has_testid(html, "org-heading") and "Acme" in html


@pytest.mark.parametrize("suffix", [*PAGES, "select"])
def test_it_sends_signed_out_visitors_to_sign_in(client, acme, suffix):
    response = client.get(f"/org/acme/{suffix}")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/org/acme/")


def test_it_answers_404_for_unknown_and_deleted_organizations(cast, acme):
    alice = signed_in(cast["owner"])
    page(alice.get("/org/nope/"), 404)
    services.organization_delete(actor=owner_actor(acme, cast["owner"]))
    page(alice.get("/org/acme/"), 404)
    page(alice.get("/org/acme/members/"), 404)


ADMIN_ACTIONS = [
    ("members/{bob}/role", {"role": "admin"}),
    ("members/{bob}/remove", {}),
    ("invitations/{invitation}/resend", {}),
    ("invitations/{invitation}/revoke", {}),
    ("api-keys/{key}/revoke", {}),
]
OWNER_ACTIONS = [("transfer", {"user_id": "{bob}"}), ("delete", {"confirm": "acme"})]


@pytest.fixture
def targets(cast, acme):
    invitation, _ = invite(acme, cast["owner"], "pending@example.com")
    key, _ = services.api_key_create(actor=owner_actor(acme, cast["owner"]), name="CI")
    return {"bob": cast["member"].pk, "invitation": invitation.pk, "key": key.pk}


def fill(template: str, ids: dict[str, int]) -> str:
    return template.format(**ids)


@pytest.mark.parametrize(("action", "data"), ADMIN_ACTIONS + OWNER_ACTIONS)
def test_it_refuses_actions_to_outsiders_with_404_and_to_members_with_403(
    cast, targets, action, data
):
    url = f"/org/acme/{fill(action, targets)}"
    body = {k: fill(v, targets) for k, v in data.items()}
    page(signed_in(cast["outsider"]).post(url, body), 404)
    page(signed_in(cast["member"]).post(url, body), 403)
    if (action, data) in OWNER_ACTIONS:
        page(signed_in(cast["admin"]).post(url, body), 403)
    # nothing changed
    assert Organization.objects.get(slug="acme").deleted_at is None
    assert Membership.objects.get(user=cast["member"], organization__slug="acme").role == "member"
    assert Invitation.objects.get(pk=targets["invitation"]).state == "pending"
    assert OrgAPIKey.objects.get(pk=targets["key"]).revoked_at is None


def test_action_urls_refuse_get(cast, targets):
    response = signed_in(cast["owner"]).get(f"/org/acme/members/{targets['bob']}/remove")
    assert response.status_code == 405


# --- Create, switch ---------------------------------------------------------------------------


def test_it_creates_an_organization_with_the_creator_as_owner(alice):
    client = signed_in(alice)
    page(client.get("/org/new"))
    response = client.post("/org/new", {"name": "Initech", "slug": "initech"})
    assert response.status_code == 302 and response["Location"] == "/org/initech/"
    org = Organization.objects.get(slug="initech")
    assert Membership.objects.get(organization=org, user=alice).role == OrgRole.OWNER
    html = page(client.get("/org/initech/"))
    assert "Initech is ready" in html
    assert has_testid(html, "stat-role") and "Owner" in html


def test_it_makes_the_slug_from_the_name_when_left_empty(alice):
    response = signed_in(alice).post("/org/new", {"name": "Umbrella Corp", "slug": ""})
    assert response["Location"] == "/org/umbrella-corp/"


@pytest.mark.parametrize(
    ("slug", "error"),
    [("admin", "reserved"), ("Bad Slug!", "lowercase letters"), ("acme", "already taken")],
)
def test_it_shows_service_errors_on_the_slug_field(alice, acme, slug, error):
    html = page(signed_in(alice).post("/org/new", {"name": "Another", "slug": slug}))
    assert error in html
    assert 'aria-invalid="true"' in html
    assert Organization.objects.filter(name="Another").count() == 0


def test_the_switcher_lists_the_users_orgs_and_remembers_the_chosen_one(cast, acme, globex):
    charlie = cast["outsider"]
    # Memberships made by the services carry a selection time (creation, acceptance).
    earlier = timezone.now() - timedelta(days=1)
    Membership.objects.filter(user=charlie).update(last_selected_at=earlier)
    MembershipFactory(
        organization=acme, user=charlie, role=OrgRole.MEMBER, last_selected_at=earlier
    )
    client = signed_in(charlie)
    html = page(client.get("/"))
    assert has_testid(html, "org-switch-acme") and has_testid(html, "org-switch-globex")
    response = client.post("/org/acme/select")
    assert response.status_code == 302 and response["Location"] == "/org/acme/"
    assert Membership.objects.get(user=charlie, organization=acme).last_selected_at > earlier
    html = page(client.get("/"))
    assert re.search(r'data-testid="org-switcher-current">Acme<', html)
    # On an org's pages, that org is the current one.
    html = page(client.get("/org/globex/members/"))
    assert re.search(r'data-testid="org-switcher-current">Globex<', html)


def test_the_switcher_is_only_for_signed_in_people(client, alice):
    assert not has_testid(page(client.get("/")), "org-switcher")
    html = page(signed_in(alice).get("/"))
    assert has_testid(html, "org-switcher") and has_testid(html, "org-new-link")
    assert "not in an organization yet" in html


def test_selecting_an_org_you_are_not_in_is_404(cast, acme):
    page(signed_in(cast["outsider"]).post("/org/acme/select"), 404)


# --- Dashboard, settings ----------------------------------------------------------------------


def test_the_dashboard_shows_plan_seats_and_role(cast, acme):
    invite(acme, cast["owner"], "new@example.com")
    html = page(signed_in(cast["admin"]).get("/org/acme/"))
    assert re.search(r'data-testid="stat-members">3 <span class="stat-of">of 5 seats', html)
    assert html.count("seat seat--member") == 3 + 1  # three seats + the legend
    assert html.count("seat seat--pending") == 1 + 1
    assert html.count("seat seat--free") == 1 + 1
    assert "Admin" in html and "Free" in html
    # Members see the links they can use, not pending invitations.
    html = page(signed_in(cast["member"]).get("/org/acme/"))
    assert not has_testid(html, "link-invitations") and "seat--pending" not in html


def test_admins_rename_the_org_through_the_service(cast, acme):
    client = signed_in(cast["admin"])
    response = client.post("/org/acme/settings/", {"name": "Acme Rockets"})
    assert response.status_code == 302
    assert Organization.objects.get(pk=acme.pk).name == "Acme Rockets"
    html = page(client.post("/org/acme/settings/", {"name": "A"}))
    assert "Name must be 2–100 characters" in html


# --- Members ----------------------------------------------------------------------------------


def test_member_controls_follow_the_callers_role(cast):
    alice, bob, dave = cast["owner"], cast["member"], cast["admin"]
    owner_html = page(signed_in(alice).get("/org/acme/members/"))
    assert has_testid(owner_html, f"role-select-{bob.pk}") and has_testid(
        owner_html, f"remove-{dave.pk}"
    )
    assert '<option value="owner"' in owner_html
    assert not has_testid(owner_html, f"role-select-{alice.pk}")  # never your own role

    admin_html = page(signed_in(dave).get("/org/acme/members/"))
    assert has_testid(admin_html, f"role-select-{bob.pk}")
    assert not has_testid(admin_html, f"role-select-{alice.pk}")  # owners are out of reach
    assert not has_testid(admin_html, f"remove-{alice.pk}")
    assert '<option value="owner"' not in admin_html

    member_html = page(signed_in(bob).get("/org/acme/members/"))
    assert "role-select-" not in member_html and "remove-" not in member_html
    assert member_html.count('data-testid="member-row"') == 3
    assert 'data-live-members data-org-slug="acme"' in member_html


def test_admins_change_roles_and_the_services_rules_show_as_messages(cast):
    bob, dave = cast["member"], cast["admin"]
    client = signed_in(dave)
    response = client.post(f"/org/acme/members/{bob.pk}/role", {"role": "admin"}, follow=True)
    assert "Role changed to admin" in page(response)
    assert Membership.objects.get(user=bob).role == "admin"
    response = client.post(f"/org/acme/members/{bob.pk}/role", {"role": "owner"}, follow=True)
    assert "Only owners can grant or change the owner role" in page(response)
    response = client.post(f"/org/acme/members/{dave.pk}/role", {"role": "member"}, follow=True)
    assert "You cannot change your own role" in page(response)
    response = client.post(f"/org/acme/members/{bob.pk}/role", {"role": "king"}, follow=True)
    assert "Choose owner, admin or member" in page(response)
    assert Membership.objects.get(user=bob).role == "admin"


def test_admins_remove_members_but_not_owners(cast):
    alice, bob, dave = cast["owner"], cast["member"], cast["admin"]
    client = signed_in(dave)
    response = client.post(f"/org/acme/members/{alice.pk}/remove", follow=True)
    assert "Only owners can remove an owner" in page(response)
    response = client.post(f"/org/acme/members/{bob.pk}/remove", follow=True)
    assert "Member removed" in page(response)
    assert not Membership.objects.filter(user=bob, organization__slug="acme").exists()
    page(signed_in(bob).get("/org/acme/"), 404)  # the membership cache was cleared


# --- Invitations ------------------------------------------------------------------------------


def test_admins_send_invitations_which_are_emailed(cast, django_capture_on_commit_callbacks):
    client = signed_in(cast["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/org/acme/invitations/", {"email": "Erin@Example.com", "role": "admin"}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="erin@example.com")
    assert (invitation.role, invitation.invited_by) == ("admin", cast["admin"])
    token = token_from_email("erin@example.com", "/invitations/accept")
    assert invitation.token_hash == token_hash(token)
    html = page(client.get("/org/acme/invitations/"))
    assert "Invitation sent to erin@example.com" in html
    assert 'data-email="erin@example.com"' in html
    assert "4 of 5 seats used" in html


def test_invitation_errors_show_on_the_form(cast, acme):
    client = signed_in(cast["owner"])
    html = page(
        client.post("/org/acme/invitations/", {"email": "bob@example.com", "role": "member"})
    )
    assert "This person is already a member" in html and 'aria-invalid="true"' in html
    html = page(client.post("/org/acme/invitations/", {"email": "nope", "role": "member"}))
    assert "Enter a valid email address" in html
    invite(acme, cast["owner"], "one@example.com")
    invite(acme, cast["owner"], "two@example.com")  # 3 members + 2 pending = 5 seats
    html = page(
        client.post("/org/acme/invitations/", {"email": "three@example.com", "role": "member"})
    )
    assert "Seat limit reached for the free plan (5 seats)" in html
    assert has_testid(html, "form-errors")


def test_admins_resend_and_revoke_invitations(cast, acme, django_capture_on_commit_callbacks):
    invitation, old_token = invite(acme, cast["owner"], "erin@example.com")
    client = signed_in(cast["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/org/acme/invitations/{invitation.pk}/resend", follow=True)
    assert "Invitation sent again" in page(response)
    new_token = token_from_email("erin@example.com", "/invitations/accept")
    assert new_token != old_token
    response = client.post(f"/org/acme/invitations/{invitation.pk}/revoke", follow=True)
    assert "Invitation revoked" in page(response)
    assert Invitation.objects.get(pk=invitation.pk).state == "cancelled"
    response = client.post(f"/org/acme/invitations/{invitation.pk}/revoke", follow=True)
    assert "Invitation not found" in page(response)


def test_invitations_of_another_org_are_not_found(cast, globex):
    invitation, _ = invite(globex, cast["outsider"], "x@example.com")
    response = signed_in(cast["owner"]).post(
        f"/org/acme/invitations/{invitation.pk}/revoke", follow=True
    )
    assert "Invitation not found" in page(response)
    assert Invitation.objects.get(pk=invitation.pk).state == "pending"


# --- API keys ---------------------------------------------------------------------------------


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_kept(cast, acme):
    client = signed_in(cast["admin"])
    response = client.post(
        "/org/acme/api-keys/", {"name": "Deploys", "role": "admin", "expires_in": "30"}
    )
    html = page(response)
    assert response["Cache-Control"] == "no-store"
    raw = re.search(r'data-testid="new-key">(keel_[A-Za-z0-9]{40})<', html).group(1)
    key = OrgAPIKey.objects.get(organization=acme, name="Deploys")
    assert key.key_hash == token_hash(raw) and raw.startswith(key.prefix)
    assert key.role == "admin" and key.expires_at > timezone.now() + timedelta(days=29)
    session: SessionBase = client.session
    assert raw not in str(dict(session.items()))
    again = page(client.get("/org/acme/api-keys/"))
    assert raw not in again and has_testid(again, "api-key-row") and key.prefix in again
    # The key works against the API, for its own org only.
    api = Client()
    assert api.get("/api/v1/organizations/acme", HTTP_X_API_KEY=raw).status_code == 200
    assert api.get("/api/v1/organizations/globex", HTTP_X_API_KEY=raw).status_code == 404


def test_api_key_form_errors_and_revocation(cast, acme):
    client = signed_in(cast["owner"])
    html = page(client.post("/org/acme/api-keys/", {"name": "", "role": "member"}))
    assert "This field is required" in html and not has_testid(html, "new-key")
    key, raw = services.api_key_create(actor=owner_actor(acme, cast["owner"]), name="Old")
    response = client.post(f"/org/acme/api-keys/{key.pk}/revoke", follow=True)
    assert "API key revoked" in page(response)
    assert OrgAPIKey.objects.get(pk=key.pk).revoked_at is not None
    assert Client().get("/api/v1/organizations/acme", HTTP_X_API_KEY=raw).status_code == 401


# --- Danger zone ------------------------------------------------------------------------------


def test_the_danger_zone_shows_owners_transfer_and_delete_and_members_leave(cast):
    owner = page(signed_in(cast["owner"]).get("/org/acme/danger/"))
    assert has_testid(owner, "transfer-form") and has_testid(owner, "delete-form")
    assert has_testid(owner, "leave-blocked")  # the only owner
    member = page(signed_in(cast["member"]).get("/org/acme/danger/"))
    assert not has_testid(member, "transfer-form") and not has_testid(member, "delete-form")
    assert has_testid(member, "leave-submit")


def test_owners_transfer_ownership(cast, acme):
    alice, bob = cast["owner"], cast["member"]
    client = signed_in(alice)
    response = client.post("/org/acme/transfer", {"user_id": bob.pk})
    assert response.status_code == 302 and response["Location"] == "/org/acme/members/"
    roles = dict(Membership.objects.filter(organization=acme).values_list("user_id", "role"))
    assert roles[bob.pk] == "owner" and roles[alice.pk] == "admin"
    page(client.post("/org/acme/transfer", {"user_id": bob.pk}), 403)  # alice is an admin now


def test_transfer_needs_another_member(cast, acme):
    html = page(signed_in(cast["owner"]).post("/org/acme/transfer", {"user_id": 999999}), 400)
    assert "Select a valid choice" in html


def test_deleting_needs_the_slug_typed_and_then_deletes(cast, acme):
    client = signed_in(cast["owner"])
    html = page(client.post("/org/acme/delete", {"confirm": "acm"}), 400)
    assert "Type acme to confirm" in html
    assert Organization.objects.get(pk=acme.pk).deleted_at is None
    response = client.post("/org/acme/delete", {"confirm": "acme"}, follow=True)
    assert "Acme was deleted" in page(response)
    assert Organization.objects.get(pk=acme.pk).deleted_at is not None


def test_deleting_an_org_with_a_subscription_is_refused_with_a_message(cast, acme):
    Organization.objects.filter(pk=acme.pk).update(stripe_subscription_id="sub_123")
    response = signed_in(cast["owner"]).post("/org/acme/delete", {"confirm": "acme"}, follow=True)
    assert "Cancel the organization&#x27;s subscription" in page(response)
    assert Organization.objects.get(pk=acme.pk).deleted_at is None


def test_members_leave_but_the_last_owner_cannot(cast, acme):
    response = signed_in(cast["member"]).post("/org/acme/leave", follow=True)
    assert "You left Acme" in page(response)
    assert not Membership.objects.filter(user=cast["member"], organization=acme).exists()
    response = signed_in(cast["owner"]).post("/org/acme/leave", follow=True)
    assert "Transfer ownership first" in page(response)
    assert Membership.objects.filter(user=cast["owner"], organization=acme).exists()


# --- The invitation page ----------------------------------------------------------------------


def accept_url(token: str) -> str:
    return f"/invitations/accept?token={token}"


def test_an_unknown_link_is_a_clear_404(client, acme):
    html = page(client.get(accept_url("nope")), 404)
    assert "This invitation link doesn't work" in html
    page(client.get("/invitations/accept"), 404)


def test_signed_out_visitors_see_the_invitation_and_links_to_sign_in_or_up(client, cast, acme):
    _, token = invite(acme, cast["owner"], "erin@example.com", OrgRole.ADMIN)
    response = client.get(accept_url(token))
    html = page(response)
    assert response["Cache-Control"] == "no-store"
    assert "Join Acme" in html and "Alice Owner" in html and "Admin" in html
    signup = re.search(r'href="([^"]+)" data-testid="invitation-sign-up"', html).group(1)
    query = parse_qs(urlsplit(signup.replace("&amp;", "&")).query)
    assert urlsplit(signup).path == "/accounts/signup/"
    assert query == {"email": ["erin@example.com"], "next": [accept_url(token)]}
    login = re.search(r'href="([^"]+)" data-testid="invitation-sign-in"', html).group(1)
    assert parse_qs(urlsplit(login.replace("&amp;", "&")).query) == {"next": [accept_url(token)]}
    assert has_testid(html, "invitation-decline")


def test_sign_up_prefills_the_invited_address_and_comes_back_here(client, cast, acme):
    """allauth's sign-up reads `email` from the query string and keeps `next` through POST."""
    _, token = invite(acme, cast["owner"], "erin@example.com")
    html = client.get("/accounts/signup/", {"email": "erin@example.com", "next": accept_url(token)})
    html = html.content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*value="erin@example.com"', html)
    assert re.search(r'name="next"[^>]*value="/invitations/accept\?token=', html)
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Erin",
            "email": "erin@example.com",
            "password1": DEFAULT_PASSWORD,
            "next": accept_url(token),
        },
    )
    assert response.status_code == 302 and response["Location"] == accept_url(token)
    html = page(client.get(accept_url(token)))
    assert has_testid(html, "invitation-accept")


def test_signing_in_with_the_invited_address_accepts_and_lands_in_the_org(client, cast, acme):
    _, token = invite(acme, cast["owner"], "erin@example.com")
    erin = UserFactory(email="erin@example.com")
    response = client.post(accept_url(token), {"action": "accept"})
    assert response.status_code == 302  # signed out: sign in first, then come back
    assert (
        response["Location"] == f"/accounts/login/?next=%2Finvitations%2Faccept%3Ftoken%3D{token}"
    )
    client.force_login(erin)
    html = page(client.get(accept_url(token)))
    assert has_testid(html, "invitation-accept") and has_testid(html, "invitation-decline")
    response = client.post(accept_url(token), {"action": "accept"})
    assert response.status_code == 302 and response["Location"] == "/org/acme/"
    assert Membership.objects.get(organization=acme, user=erin).role == OrgRole.MEMBER
    html = page(client.get("/org/acme/"))
    assert "Welcome to Acme" in html
    # The link now leads to the org.
    html = page(client.get(accept_url(token)))
    assert has_testid(html, "invitation-open-org")


def test_the_wrong_account_is_told_and_offered_to_sign_out(cast, acme):
    _, token = invite(acme, cast["owner"], "erin@example.com")
    client = signed_in(cast["outsider"])
    html = page(client.get(accept_url(token)))
    assert 'data-state="wrong-account"' in html and "charlie@example.com" in html
    assert has_testid(html, "invitation-sign-out") and not has_testid(html, "invitation-accept")
    assert f'name="next" value="/invitations/accept?token={token}"' in html
    response = client.post(accept_url(token), {"action": "accept"}, follow=True)
    assert "This invitation was sent to another email address" in page(response)
    assert not Membership.objects.filter(organization=acme, user=cast["outsider"]).exists()
    response = client.post("/accounts/logout/", {"next": accept_url(token)})
    assert response.status_code == 302 and response["Location"] == accept_url(token)


def test_a_member_following_a_link_is_pointed_to_the_org(cast, acme):
    _, token = invite(acme, cast["owner"], "bobby@example.com")
    bobby = UserFactory(email="bobby@example.com")
    MembershipFactory(organization=acme, user=bobby)
    html = page(signed_in(bobby).get(accept_url(token)))
    assert 'data-state="member"' in html and has_testid(html, "invitation-open-org")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("expired", "This invitation has expired"),
        ("accepted", "This invitation has already been used"),
        ("declined", "This invitation was declined"),
        ("cancelled", "This invitation was revoked"),
    ],
)
def test_used_or_dead_invitations_say_so(client, cast, acme, state, message):
    invitation, token = invite(acme, cast["owner"], "erin@example.com")
    now = timezone.now()
    changes = {
        "expired": {"expires_at": now - timedelta(seconds=1)},
        "accepted": {"accepted_at": now},
        "declined": {"declined_at": now},
        "cancelled": {"cancelled_at": now},
    }[state]
    Invitation.objects.filter(pk=invitation.pk).update(**changes)
    html = page(client.get(accept_url(token)), 400)
    assert f'data-state="{state}"' in html and message in html
    assert not has_testid(html, "invitation-accept") and not has_testid(html, "invitation-sign-up")
    erin = UserFactory(email="erin@example.com")
    client.force_login(erin)
    response = client.post(accept_url(token), {"action": "accept"}, follow=True)
    assert f"This invitation is {state}" in page(response, 400)
    assert not Membership.objects.filter(organization=acme, user=erin).exists()


def test_declining_needs_no_sign_in(client, cast, acme):
    invitation, token = invite(acme, cast["owner"], "erin@example.com")
    response = client.post(accept_url(token), {"action": "decline"}, follow=True)
    html = page(response, 400)
    assert "You declined the invitation to Acme" in html and 'data-state="declined"' in html
    assert Invitation.objects.get(pk=invitation.pk).state == "declined"


def test_accepting_into_a_full_org_shows_the_seat_message(client, cast, acme):
    _, token = invite(acme, cast["owner"], "erin@example.com")
    for n in range(2):
        MembershipFactory(organization=acme, user=UserFactory(email=f"filler{n}@example.com"))
    erin = UserFactory(email="erin@example.com")
    client.force_login(erin)
    response = client.post(accept_url(token), {"action": "accept"}, follow=True)
    assert "Seat limit reached for the free plan (5 seats)" in page(response)
    assert not Membership.objects.filter(organization=acme, user=erin).exists()


def test_the_invitation_email_link_opens_this_page(
    client, cast, acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            actor=owner_actor(acme, cast["owner"]), email="erin@example.com", role="member"
        )
    assert any("erin@example.com" in m.to for m in mail.outbox)
    token = token_from_email("erin@example.com", "/invitations/accept")
    assert "Join Acme" in page(client.get(accept_url(token)))
