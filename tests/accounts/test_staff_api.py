"""Staff routes for accounts (contract §3.2 `/users`, §11 `/admin/users*`, `/admin/stats`):
who may do what (user / admin / super_admin against each kind of target), bad input, audit
entries, real-time events, and constant query counts for the lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.utils import timezone

from accounts.auth import sessions
from accounts.models import Role, User, UserSession
from accounts.staff import services as staff_module
from config import realtime
from config.context import impersonator_id_var
from organizations.models import Organization
from security.models import AuditLog
from security.services import system_settings_update
from tests.accounts.helpers import enrol, last_email_to
from tests.factories import DEFAULT_PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
META = sessions.RequestMeta(ip="198.51.100.20", user_agent="pytest")


@pytest.fixture(autouse=True)
def _no_impersonator_leak():
    """JWT authentication sets this context variable and nothing resets it between requests
    of one thread (reported); keep it from leaking between tests."""
    token = impersonator_id_var.set(None)
    yield
    impersonator_id_var.reset(token)


@pytest.fixture
def events(monkeypatch):
    """Real-time calls made by the services: ("event", user_id, type, payload) / ("close", id)."""
    sent: list[tuple] = []
    monkeypatch.setattr(
        realtime,
        "publish_to_user",
        lambda uid, kind, payload: sent.append(("event", uid, kind, payload)),
    )
    monkeypatch.setattr(
        realtime, "close_user_sockets", lambda uid, code=4401: sent.append(("close", uid))
    )
    return sent


@pytest.fixture
def second_superadmin(db):
    return UserFactory(email="root2@example.com", name="Sue Super", role=Role.SUPER_ADMIN)


@pytest.fixture
def other_admin(db):
    return UserFactory(email="admin2@example.com", name="Adam Admin", role=Role.ADMIN)


def audit(action, **filters):
    return AuditLog.objects.filter(action=action, **filters)


def bearer(user):
    return sessions.session_create(user=user, meta=META, method="password").access.token


# --- GET /users ------------------------------------------------------------------------------------


def test_staff_list_users_newest_first_in_the_envelope(as_user, staff, alice, bob):
    body = as_user(staff).get("/api/v1/users").json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == {"users", "count", "total", "page", "limit", "total_pages"}
    assert data["limit"] == 10 and data["page"] == 1
    assert data["total"] == 3 and data["count"] == 3 and data["total_pages"] == 1
    assert [u["email"] for u in data["users"]] == [bob.email, alice.email, staff.email]
    assert set(data["users"][0]) >= {"id", "name", "email", "role", "is_active", "created_at"}


@pytest.mark.parametrize("who", ["staff", "superadmin"])
def test_admins_and_super_admins_may_list_users(as_user, request, who):
    assert as_user(request.getfixturevalue(who)).get("/api/v1/users").status_code == 200


def test_a_regular_user_may_not_list_users(as_user, alice):
    response = as_user(alice).get("/api/v1/users")
    assert response.status_code == 403 and response.json()["error"] == "FORBIDDEN"


def test_listing_users_needs_authentication(api):
    response = api.get("/api/v1/users")
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_list_filters_by_search_role_and_activity(as_user, staff, alice, bob):
    bob.is_active = False
    bob.save()
    api = as_user(staff)

    def emails(query):
        return [u["email"] for u in api.get(f"/api/v1/users?{query}").json()["data"]["users"]]

    assert emails("search=ALICE") == [alice.email]
    assert emails("search=Member") == [bob.email]  # name
    assert emails("role=admin") == [staff.email]
    assert emails("is_active=false") == [bob.email]
    assert set(emails("is_active=true")) == {alice.email, staff.email}
    assert emails("search=nobody") == []
    assert len(emails("role=&search=")) == 3  # empty filters are no filters


def test_the_list_pages_with_limit_and_page(as_user, staff):
    UserFactory.create_batch(12)
    api = as_user(staff)
    first = api.get("/api/v1/users").json()["data"]
    assert first["count"] == 10 and first["total"] == 13 and first["total_pages"] == 2
    second = api.get("/api/v1/users?page=2").json()["data"]
    assert second["count"] == 3 and second["page"] == 2
    assert api.get("/api/v1/users?limit=5").json()["data"]["total_pages"] == 3
    assert api.get("/api/v1/users?limit=1000").json()["data"]["limit"] == 10  # out of range


@pytest.mark.parametrize("query", ["role=emperor", "is_active=banana"])
def test_bad_list_filters_are_validation_errors(as_user, staff, query):
    response = as_user(staff).get(f"/api/v1/users?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR"
    assert body["message"].startswith(query.split("=")[0] + ": ")


def test_soft_deleted_users_are_not_listed(as_user, staff, alice, bob):
    bob.deleted_at = timezone.now()
    bob.save()
    emails = [u["email"] for u in as_user(staff).get("/api/v1/users").json()["data"]["users"]]
    assert bob.email not in emails and alice.email in emails


def test_listing_users_costs_the_same_queries_for_many_users(
    as_user, staff, django_assert_max_num_queries
):
    api = as_user(staff)
    UserFactory.create_batch(3)
    api.get("/api/v1/users")  # warm the settings cache (each time: its local copy lives 5 s)
    with django_assert_max_num_queries(2) as few:  # count + page
        assert api.get("/api/v1/users?limit=100").status_code == 200
    baseline = len(few.captured_queries)  # read now: the next request clears the log
    UserFactory.create_batch(20)
    api.get("/api/v1/users")
    with django_assert_max_num_queries(baseline):
        assert len(api.get("/api/v1/users?limit=100").json()["data"]["users"]) == 24


def test_staff_without_2fa_are_refused_when_admins_need_it(as_user, staff, alice):
    system_settings_update(values={"require_2fa_for_admins": True}, actor=staff)
    api = as_user(staff)
    response = api.get("/api/v1/users")
    assert response.status_code == 403
    assert (
        response.json()["message"] == "Two-factor authentication must be enabled for admin access"
    )
    assert api.get(f"/api/v1/users/{alice.pk}").status_code == 403
    assert api.get(f"/api/v1/users/{staff.pk}").status_code == 200  # own account still works
    enrol(staff)
    assert api.get("/api/v1/users").status_code == 200


# --- POST /users ---------------------------------------------------------------------------------


def test_a_super_admin_creates_a_verified_user_with_a_password(as_user, superadmin):
    response = as_user(superadmin).post(
        "/api/v1/users",
        {
            "name": "Dana New",
            "email": "Dana@Example.com",
            "password": "Sup3r-secret",
            "role": "premium",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["data"]["email"] == "dana@example.com"
    assert body["data"]["email_verified"] is True and body["data"]["role"] == "premium"
    user = User.objects.get(email="dana@example.com")
    assert check_password("Sup3r-secret", user.password)
    assert audit("user_create", actor=superadmin, target_id=str(user.pk)).exists()


def test_without_a_password_the_new_user_gets_a_reset_link(
    as_user, superadmin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(superadmin).post(
            "/api/v1/users", {"name": "Erin", "email": "erin@example.com"}, format="json"
        )
    assert response.status_code == 201
    assert response.json()["data"]["role"] == "user"
    user = User.objects.get(email="erin@example.com")
    assert not user.has_usable_password()
    assert "/reset-password?token=" in last_email_to("erin@example.com").body


@pytest.mark.parametrize("who", ["alice", "staff"])
def test_only_a_super_admin_creates_users(as_user, request, who):
    response = as_user(request.getfixturevalue(who)).post(
        "/api/v1/users",
        {"name": "X", "email": "x@example.com", "password": "Sup3r-secret"},
        format="json",
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


def test_creating_a_user_with_a_taken_email_is_a_conflict(as_user, superadmin, alice):
    response = as_user(superadmin).post(
        "/api/v1/users", {"name": "A", "email": "ALICE@example.com"}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"] == "CONFLICT"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "email": "a@example.com", "password": "short"}, "password"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"email": "a@example.com"}, "name"),
        ({"name": "A", "email": "a@example.com", "role": "emperor"}, "role"),
    ],
)
def test_bad_new_users_are_validation_errors(as_user, superadmin, payload, field):
    response = as_user(superadmin).post("/api/v1/users", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "VALIDATION_ERROR" and body["message"].startswith(f"{field}: ")
    assert not User.objects.filter(email="a@example.com").exists()


# --- GET /users/{id} -------------------------------------------------------------------------------


def test_users_read_themselves(as_user, alice):
    body = as_user(alice).get(f"/api/v1/users/{alice.pk}").json()
    assert body["success"] is True and body["data"]["id"] == alice.pk


def test_staff_read_anyone(as_user, staff, alice):
    assert as_user(staff).get(f"/api/v1/users/{alice.pk}").json()["data"]["email"] == alice.email


def test_users_may_not_read_others_existing_or_not(as_user, alice, bob):
    api = as_user(alice)
    assert api.get(f"/api/v1/users/{bob.pk}").status_code == 403
    assert api.get("/api/v1/users/999999").status_code == 403  # nothing revealed


def test_unknown_and_deleted_users_are_not_found_for_staff(as_user, staff, bob):
    bob.deleted_at = timezone.now()
    bob.save()
    api = as_user(staff)
    assert api.get("/api/v1/users/999999").status_code == 404
    response = api.get(f"/api/v1/users/{bob.pk}")
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/api/v1/users/abc", "/api/v1/users/1.5", "/api/v1/users/-1"])
def test_non_integer_ids_are_json_404s(as_user, staff, path):
    response = as_user(staff).get(path)
    assert response.status_code == 404 and response.json()["error"] == "NOT_FOUND"


def test_an_id_beyond_64_bits_is_a_400_naming_it(as_user, staff):
    response = as_user(staff).get("/api/v1/users/99999999999999999999999")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "user_id"


def test_the_alias_prefix_serves_the_same_routes(as_user, staff, alice):
    assert as_user(staff).get(f"/api/users/{alice.pk}").status_code == 200


# --- PUT /users/{id} -------------------------------------------------------------------------------


def test_users_update_their_own_profile_here_too(as_user, alice, events):
    response = as_user(alice).put(
        f"/api/v1/users/{alice.pk}", {"name": "Alice B", "bio": "Hi", "id": 42}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["name"] == "Alice B"
    assert audit("profile_update", actor=alice).exists()
    assert ("event", alice.pk, "user_update", {"field": "profile"}) in events


def test_staff_edit_a_user_and_it_is_audited_as_theirs(as_user, staff, alice):
    response = as_user(staff).put(
        f"/api/v1/users/{alice.pk}",
        {"location": "Lyon", "social_links": {"x": "@al"}},
        format="json",
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["location"] == "Lyon" and data["social_links"] == '{"x": "@al"}'
    entry = audit("user_update", actor=staff, target_id=str(alice.pk)).get()
    assert entry.changes["location"] == ["", "Lyon"]


def test_a_new_email_set_by_staff_must_be_verified_again(as_user, staff, alice):
    response = as_user(staff).put(
        f"/api/v1/users/{alice.pk}", {"email": "alice.new@example.com"}, format="json"
    )
    assert response.json()["data"]["email_verified"] is False


def test_staff_edits_refuse_a_taken_email(as_user, staff, alice, bob):
    response = as_user(staff).put(f"/api/v1/users/{alice.pk}", {"email": bob.email}, format="json")
    assert response.status_code == 409


def test_only_a_super_admin_edits_a_super_admin(as_user, staff, superadmin, second_superadmin):
    response = as_user(staff).put(
        f"/api/v1/users/{superadmin.pk}", {"name": "Hacked"}, format="json"
    )
    assert response.status_code == 403
    superadmin.refresh_from_db()
    assert superadmin.name == "Sam Super"
    ok = as_user(second_superadmin).put(
        f"/api/v1/users/{superadmin.pk}", {"name": "Samuel"}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["data"]["name"] == "Samuel"


def test_admins_edit_other_admins(as_user, staff, other_admin):
    response = as_user(staff).put(f"/api/v1/users/{other_admin.pk}", {"name": "Ada"}, format="json")
    assert response.status_code == 200


def test_users_may_not_edit_others(as_user, alice, bob):
    response = as_user(alice).put(f"/api/v1/users/{bob.pk}", {"name": "Hacked"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x" * 256}, "name"),
        ({"bio": "x" * 501}, "bio"),
        ({"email": "nope"}, "email"),
        ({"social_links": "not json"}, "social_links"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_profile_edits_are_validation_errors(as_user, staff, alice, payload, field):
    response = as_user(staff).put(f"/api/v1/users/{alice.pk}", payload, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"{field}: ")


# --- DELETE /users/{id} ----------------------------------------------------------------------------


def test_staff_soft_delete_a_user_who_is_signed_out_at_once(api, staff, alice, events):
    token = bearer(alice)
    api.force_authenticate(staff)
    response = api.delete(f"/api/v1/users/{alice.pk}")
    assert response.status_code == 204 and response.content == b""
    alice.refresh_from_db()
    assert alice.deleted_at is not None
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert ("close", alice.pk) in events
    assert audit("user_delete", actor=staff, target_id=str(alice.pk)).exists()
    api.force_authenticate(None)
    me = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 401 and me.json()["error"] == "UNAUTHORIZED"


def test_users_delete_themselves(as_user, alice):
    assert as_user(alice).delete(f"/api/v1/users/{alice.pk}").status_code == 204
    assert User.objects.get(pk=alice.pk).deleted_at is not None


def test_users_may_not_delete_others(as_user, alice, bob):
    assert as_user(alice).delete(f"/api/v1/users/{bob.pk}").status_code == 403
    assert User.objects.get(pk=bob.pk).deleted_at is None


def test_only_a_super_admin_deletes_a_super_admin(as_user, staff, superadmin, second_superadmin):
    assert as_user(staff).delete(f"/api/v1/users/{superadmin.pk}").status_code == 403
    assert as_user(second_superadmin).delete(f"/api/v1/users/{superadmin.pk}").status_code == 204


def test_the_last_super_admin_is_never_deleted(as_user, superadmin):
    response = as_user(superadmin).delete(f"/api/v1/users/{superadmin.pk}")
    assert response.status_code == 400
    assert "last super admin" in response.json()["message"]
    assert User.objects.get(pk=superadmin.pk).deleted_at is None


def test_a_deactivated_super_admin_does_not_count_as_another(
    as_user, superadmin, second_superadmin
):
    second_superadmin.is_active = False
    second_superadmin.save()
    assert as_user(superadmin).delete(f"/api/v1/users/{superadmin.pk}").status_code == 400


def test_deleting_an_unknown_or_deleted_user_is_not_found(as_user, staff, bob):
    api = as_user(staff)
    assert api.delete("/api/v1/users/999999").status_code == 404
    api.delete(f"/api/v1/users/{bob.pk}")
    assert api.delete(f"/api/v1/users/{bob.pk}").status_code == 404


# --- PATCH /users/{id}/role ------------------------------------------------------------------------


def test_staff_change_a_users_role_which_is_audited_and_pushed(as_user, staff, alice, events):
    response = as_user(staff).patch(
        f"/api/v1/users/{alice.pk}/role", {"role": "premium"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["data"]["role"] == "premium"
    entry = audit("role_change", actor=staff, target_id=str(alice.pk)).get()
    assert entry.changes == {"role": ["user", "premium"]}
    assert ("event", alice.pk, "user_update", {"field": "role", "value": "premium"}) in events


def test_nobody_changes_their_own_role(as_user, superadmin):
    response = as_user(superadmin).patch(
        f"/api/v1/users/{superadmin.pk}/role", {"role": "user"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("target", "role"),
    [
        ("alice", "admin"),  # granting admin
        ("alice", "super_admin"),
        ("other_admin", "user"),  # revoking admin
        ("superadmin", "user"),
    ],
)
def test_admins_may_not_grant_or_revoke_the_admin_roles(as_user, request, staff, target, role):
    user = request.getfixturevalue(target)
    before = user.role
    response = as_user(staff).patch(f"/api/v1/users/{user.pk}/role", {"role": role}, format="json")
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.role == before


@pytest.mark.parametrize(
    ("target", "role"), [("alice", "admin"), ("staff", "user"), ("alice", "super_admin")]
)
def test_super_admins_grant_and_revoke_the_admin_roles(as_user, request, superadmin, target, role):
    user = request.getfixturevalue(target)
    response = as_user(superadmin).patch(
        f"/api/v1/users/{user.pk}/role", {"role": role}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.role == role and user.is_staff == (role in ("admin", "super_admin"))


def test_regular_users_may_not_change_roles(as_user, alice, bob):
    response = as_user(alice).patch(
        f"/api/v1/users/{bob.pk}/role", {"role": "premium"}, format="json"
    )
    assert response.status_code == 403


@pytest.mark.parametrize("payload", [{"role": "emperor"}, {}, {"role": None}])
def test_an_unknown_role_is_a_validation_error(as_user, staff, alice, payload):
    response = as_user(staff).patch(f"/api/v1/users/{alice.pk}/role", payload, format="json")
    assert response.status_code == 400 and response.json()["error"] == "VALIDATION_ERROR"


def test_changing_the_role_of_an_unknown_user_is_not_found(as_user, staff):
    response = as_user(staff).patch("/api/v1/users/999999/role", {"role": "premium"}, format="json")
    assert response.status_code == 404


def test_setting_the_same_role_changes_nothing(as_user, staff, alice):
    assert (
        as_user(staff)
        .patch(f"/api/v1/users/{alice.pk}/role", {"role": "user"}, format="json")
        .status_code
        == 200
    )
    assert not audit("role_change").exists()


# --- GET /admin/stats ------------------------------------------------------------------------------


def test_admin_stats_count_users_organizations_and_roles(as_user, staff, superadmin, alice, bob):
    bob.is_active = False
    bob.email_verified = False
    bob.save()
    old = UserFactory(email="old@example.com")
    User.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=20))
    UserFactory(email="gone@example.com", deleted_at=timezone.now())
    OrganizationFactory()
    OrganizationFactory(deleted_at=timezone.now())
    body = as_user(staff).get("/api/v1/admin/stats").json()
    assert body["total_users"] == 5  # staff, superadmin, alice, bob, old (not the deleted one)
    assert body["active_users"] == 4
    assert body["verified_users"] == 4
    assert body["new_users_today"] == 4 and body["new_users_this_week"] == 4
    assert body["new_users_this_month"] == 5
    assert (
        body["total_organizations"]
        == 1
        == Organization.objects.filter(deleted_at__isnull=True).count()
    )
    assert body["users_by_role"] == {"super_admin": 1, "admin": 1, "premium": 0, "user": 3}
    for key in (
        "total_subscriptions",
        "active_subscriptions",
        "canceled_subscriptions",
        "total_files",
        "total_file_size",
    ):
        assert body[key] == 0


def test_admin_stats_are_for_staff_only(as_user, alice, superadmin):
    assert as_user(alice).get("/api/v1/admin/stats").status_code == 403
    assert as_user(superadmin).get("/api/v1/admin/stats").status_code == 200


def test_admin_stats_cost_four_queries(as_user, staff, django_assert_max_num_queries):
    api = as_user(staff)
    UserFactory.create_batch(5)
    api.get("/api/v1/admin/stats")  # warm the settings cache
    # One aggregate each: users, organizations, subscriptions, usage events.
    with django_assert_max_num_queries(4):
        api.get("/api/v1/admin/stats")


# --- GET /admin/users, /admin/users/deleted ------------------------------------------------------------


def test_staff_search_users_by_name_or_email_in_the_bare_shape(as_user, staff, alice, bob):
    body = as_user(staff).get("/api/v1/admin/users?query=example.com").json()
    assert set(body) == {"users", "count", "total", "page", "limit", "total_pages"}
    assert body["limit"] == 20 and body["total"] == 3
    body = as_user(staff).get("/api/v1/admin/users?query=owner").json()
    assert [u["email"] for u in body["users"]] == [alice.email]


def test_searching_users_is_for_staff(as_user, alice):
    assert as_user(alice).get("/api/v1/admin/users").status_code == 403


def test_searching_users_costs_the_same_queries_for_many_users(
    as_user, staff, django_assert_max_num_queries
):
    api = as_user(staff)
    api.get("/api/v1/admin/users")
    with django_assert_max_num_queries(2) as few:
        api.get("/api/v1/admin/users?query=example")
    baseline = len(few.captured_queries)  # read now: the next request clears the log
    UserFactory.create_batch(25)
    api.get("/api/v1/admin/users")
    with django_assert_max_num_queries(baseline):
        assert api.get("/api/v1/admin/users?query=example").json()["count"] == 20


def test_super_admins_list_deleted_users(as_user, superadmin, alice, bob):
    bob.deleted_at = timezone.now()
    bob.save()
    body = as_user(superadmin).get("/api/v1/admin/users/deleted").json()
    assert [u["email"] for u in body["users"]] == [bob.email]
    assert body["total"] == 1 and body["page"] == 1


def test_admins_may_not_list_deleted_users(as_user, staff):
    assert as_user(staff).get("/api/v1/admin/users/deleted").status_code == 403


def test_listing_deleted_users_costs_the_same_queries_for_many(
    as_user, superadmin, django_assert_max_num_queries
):
    api = as_user(superadmin)
    UserFactory(deleted_at=timezone.now())
    api.get("/api/v1/admin/users/deleted")
    with django_assert_max_num_queries(2) as few:
        api.get("/api/v1/admin/users/deleted")
    baseline = len(few.captured_queries)  # read now: the next request clears the log
    UserFactory.create_batch(25, deleted_at=timezone.now())
    api.get("/api/v1/admin/users/deleted")
    with django_assert_max_num_queries(baseline):
        assert api.get("/api/v1/admin/users/deleted").json()["total"] == 26


# --- PUT /admin/users/{id}/role --------------------------------------------------------------------


def test_a_super_admin_sets_a_role_and_gets_the_bare_user(as_user, superadmin, alice, events):
    response = as_user(superadmin).put(
        f"/api/v1/admin/users/{alice.pk}/role", {"role": "admin"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert "success" not in body and body["role"] == "admin" and body["id"] == alice.pk
    assert audit("role_change", actor=superadmin, target_id=str(alice.pk)).exists()
    assert ("event", alice.pk, "user_update", {"field": "role", "value": "admin"}) in events


def test_admins_may_not_use_the_admin_role_route(as_user, staff, alice):
    response = as_user(staff).put(
        f"/api/v1/admin/users/{alice.pk}/role", {"role": "premium"}, format="json"
    )
    assert response.status_code == 403


def test_the_admin_role_route_refuses_ones_own_role_and_bad_input(as_user, superadmin, alice):
    api = as_user(superadmin)
    assert (
        api.put(
            f"/api/v1/admin/users/{superadmin.pk}/role", {"role": "admin"}, format="json"
        ).status_code
        == 400
    )
    assert (
        api.put(f"/api/v1/admin/users/{alice.pk}/role", {"role": "king"}, format="json").status_code
        == 400
    )
    assert (
        api.put("/api/v1/admin/users/999999/role", {"role": "user"}, format="json").status_code
        == 404
    )
    assert api.put("/api/v1/admin/users/x/role", {"role": "user"}, format="json").status_code == 404


# --- deactivate / reactivate -----------------------------------------------------------------------


def test_staff_deactivate_a_user_whose_sessions_end_at_once(api, staff, alice, events):
    token = bearer(alice)
    api.force_authenticate(staff)
    response = api.post(f"/api/v1/admin/users/{alice.pk}/deactivate")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "User deactivated successfully"}
    alice.refresh_from_db()
    assert alice.is_active is False
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert ("close", alice.pk) in events
    assert audit("user_deactivate", actor=staff, target_id=str(alice.pk)).exists()
    api.force_authenticate(None)
    me = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 401 and me.json()["error"] == "ACCOUNT_INACTIVE"


def test_staff_reactivate_a_user(as_user, staff, alice):
    alice.is_active = False
    alice.save()
    response = as_user(staff).post(f"/api/v1/admin/users/{alice.pk}/reactivate")
    assert response.status_code == 200
    assert User.objects.get(pk=alice.pk).is_active is True
    assert audit("user_reactivate", actor=staff).exists()


@pytest.mark.parametrize("action", ["deactivate", "reactivate"])
def test_nobody_deactivates_or_reactivates_themselves(as_user, staff, action):
    assert as_user(staff).post(f"/api/v1/admin/users/{staff.pk}/{action}").status_code == 400


@pytest.mark.parametrize("action", ["deactivate", "reactivate"])
def test_an_admin_may_not_act_on_a_super_admin(as_user, staff, superadmin, action):
    response = as_user(staff).post(f"/api/v1/admin/users/{superadmin.pk}/{action}")
    assert response.status_code == 403
    assert User.objects.get(pk=superadmin.pk).is_active is True


def test_a_super_admin_deactivates_another_super_admin(as_user, superadmin, second_superadmin):
    response = as_user(superadmin).post(f"/api/v1/admin/users/{second_superadmin.pk}/deactivate")
    assert response.status_code == 200


def test_regular_users_may_not_deactivate_anyone(as_user, alice, bob):
    assert as_user(alice).post(f"/api/v1/admin/users/{bob.pk}/deactivate").status_code == 403


def test_deactivating_an_unknown_user_is_not_found(as_user, staff):
    assert as_user(staff).post("/api/v1/admin/users/999999/deactivate").status_code == 404


def test_deactivating_twice_is_harmless(as_user, staff, alice):
    api = as_user(staff)
    api.post(f"/api/v1/admin/users/{alice.pk}/deactivate")
    assert api.post(f"/api/v1/admin/users/{alice.pk}/deactivate").status_code == 200
    assert audit("user_deactivate").count() == 1


def test_the_routes_answer_405_to_the_wrong_method(as_user, staff, alice):
    assert as_user(staff).get(f"/api/v1/admin/users/{alice.pk}/deactivate").status_code == 405


# --- restore ---------------------------------------------------------------------------------------


def test_a_super_admin_restores_a_deleted_user(as_user, superadmin, staff, alice):
    as_user(staff).delete(f"/api/v1/users/{alice.pk}")
    response = as_user(superadmin).post(f"/api/v1/admin/users/{alice.pk}/restore")
    assert response.status_code == 200 and response.json()["success"] is True
    alice.refresh_from_db()
    assert alice.deleted_at is None
    assert audit("user_restore", actor=superadmin, target_id=str(alice.pk)).exists()
    login = as_user(None).post(
        "/api/v1/auth/token", {"email": alice.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_restoring_a_live_or_unknown_user_is_not_found(as_user, superadmin, alice):
    api = as_user(superadmin)
    assert api.post(f"/api/v1/admin/users/{alice.pk}/restore").status_code == 404
    assert api.post("/api/v1/admin/users/999999/restore").status_code == 404


def test_restoring_is_refused_when_another_live_account_has_the_address(
    as_user, superadmin, alice, monkeypatch
):
    # The email constraint keeps a deleted account's address reserved, so this can only happen
    # once a purge or rename frees it; the rule is enforced all the same.
    alice.deleted_at = timezone.now()
    alice.save()
    assert staff_module._address_taken(alice) is False
    monkeypatch.setattr(staff_module, "_address_taken", lambda user: True)
    response = as_user(superadmin).post(f"/api/v1/admin/users/{alice.pk}/restore")
    assert response.status_code == 409 and response.json()["message"].startswith("email: ")
    assert User.objects.get(pk=alice.pk).deleted_at is not None


def test_admins_may_not_restore(as_user, staff, bob):
    bob.deleted_at = timezone.now()
    bob.save()
    assert as_user(staff).post(f"/api/v1/admin/users/{bob.pk}/restore").status_code == 403


# --- every staff route ------------------------------------------------------------------------------


STAFF_ROUTES = [
    ("get", "/api/v1/users"),
    ("get", "/api/v1/admin/stats"),
    ("get", "/api/v1/admin/users"),
    ("post", "/api/v1/admin/users/{id}/deactivate"),
    ("post", "/api/v1/admin/users/{id}/reactivate"),
    ("patch", "/api/v1/users/{id}/role"),
]
SA_ROUTES = [
    ("post", "/api/v1/users"),
    ("get", "/api/v1/admin/users/deleted"),
    ("put", "/api/v1/admin/users/{id}/role"),
    ("post", "/api/v1/admin/users/{id}/restore"),
    ("post", "/api/v1/admin/impersonate"),
]


@pytest.mark.parametrize(("method", "path"), STAFF_ROUTES + SA_ROUTES)
def test_every_staff_route_is_401_anonymous_and_403_for_users(api, alice, bob, method, path):
    url = path.format(id=bob.pk)
    assert getattr(api, method)(url, {}, format="json").status_code == 401
    api.force_authenticate(alice)
    response = getattr(api, method)(url, {}, format="json")
    assert response.status_code == 403 and response.json()["error"] == "FORBIDDEN"


@pytest.mark.parametrize(("method", "path"), SA_ROUTES)
def test_every_super_admin_route_is_403_for_admins(api, staff, bob, method, path):
    api.force_authenticate(staff)
    assert getattr(api, method)(path.format(id=bob.pk), {}, format="json").status_code == 403


def test_staff_writes_are_audited_with_the_request_id(api, staff, alice):
    api.force_authenticate(staff)
    api.post(f"/api/v1/admin/users/{alice.pk}/deactivate", HTTP_X_REQUEST_ID="req-staff-1")
    assert audit("user_deactivate").get().request_id == "req-staff-1"


def test_emails_are_not_sent_for_plain_staff_edits(
    as_user, staff, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        as_user(staff).put(f"/api/v1/users/{alice.pk}", {"name": "Al"}, format="json")
    assert mail.outbox == []
