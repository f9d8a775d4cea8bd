"""The Django admin for users (issue 5, item 9): search, filters, read-only inlines, and actions
that go through the services with the API's role rules."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.auth import sessions
from accounts.models import LoginHistory, Role, User, UserSession
from security.models import AuditLog, IPBlock
from tests.accounts.helpers import enrol, last_email_to
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/accounts/user/"
META = sessions.RequestMeta(ip="203.0.113.9", user_agent="pytest")


@pytest.fixture
def sa_client(client, superadmin):
    client.force_login(superadmin)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def change_url(user):
    return f"/admin/accounts/user/{user.pk}/change/"


def listed(client, query=""):
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    return {u.email for u in response.context["cl"].result_list}


def act(client, action, *users):
    return client.post(
        LIST, {"action": action, "_selected_action": [u.pk for u in users]}, follow=True
    )


def notes(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def change_data(user, **overrides):
    """What the change form posts (the inlines are read-only; these users have no rows)."""
    data = {
        "email": user.email,
        "name": user.name,
        "bio": user.bio,
        "location": user.location,
        "social_links": json.dumps(user.social_links),
        "role": user.role,
    }
    for prefix in ("sessions", "login_history"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "0",
        }
    return data | overrides


# --- list, search, filters -------------------------------------------------------------------------


def test_super_admins_and_admins_see_the_user_list(sa_client, staff, alice):
    assert alice.email in listed(sa_client)


def test_admins_see_the_user_list_too(staff_client, alice):
    assert alice.email in listed(staff_client)
    assert staff_client.get("/admin/").status_code == 200


def test_regular_users_do_not_get_in(client, alice):
    client.force_login(alice)
    assert client.get(LIST).status_code == 302  # to the sign-in page


def test_search_by_email_name_or_last_ip(sa_client, alice, bob):
    User.objects.filter(pk=bob.pk).update(last_login_ip="198.51.100.77")
    assert listed(sa_client, "q=alice@") == {alice.email}
    assert listed(sa_client, "q=Member") == {bob.email}
    assert listed(sa_client, "q=198.51.100.77") == {bob.email}


def test_the_filters(sa_client, superadmin, staff, alice, bob, charlie):
    User.objects.filter(pk=alice.pk).update(locked_until=timezone.now() + timedelta(minutes=9))
    User.objects.filter(pk=charlie.pk).update(locked_until=timezone.now() - timedelta(minutes=9))
    User.objects.filter(pk=bob.pk).update(is_active=False, email_verified=False)
    enrol(charlie)
    gone = UserFactory(email="gone@example.com", deleted_at=timezone.now())
    assert listed(sa_client, "role__exact=admin") == {staff.email}
    assert listed(sa_client, "is_active__exact=0") == {bob.email}
    assert listed(sa_client, "email_verified__exact=0") == {bob.email}
    assert listed(sa_client, "locked=yes") == {alice.email}
    assert alice.email not in listed(sa_client, "locked=no")
    assert listed(sa_client, "two_factor_enabled__exact=1") == {charlie.email}
    assert listed(sa_client, "deleted=yes") == {gone.email}
    assert gone.email not in listed(sa_client, "deleted=no")


def test_the_change_page_shows_the_latest_sessions_and_sign_ins_read_only(sa_client, alice):
    for _ in range(12):
        sessions.session_create(user=alice, meta=META, method="password")
    for _ in range(25):
        LoginHistory.objects.create(user=alice, success=False, failure_reason="invalid_password")
    response = sa_client.get(change_url(alice))
    assert response.status_code == 200
    formsets = {f.formset.prefix: f.formset for f in response.context["inline_admin_formsets"]}
    assert len(formsets["sessions"].forms) == 10
    assert len(formsets["login_history"].forms) == 20
    html = response.content.decode()
    assert 'name="sessions-0-device_info"' not in html  # read-only, nothing to post


def test_nothing_is_hard_deleted_here(sa_client, alice):
    assert sa_client.get(f"/admin/accounts/user/{alice.pk}/delete/").status_code == 403
    assert (
        "delete_selected"
        not in sa_client.get(LIST).context["action_form"].fields["action"].choices.__str__()
    )


# --- actions ---------------------------------------------------------------------------------------


def test_deactivate_and_reactivate_go_through_the_services(sa_client, superadmin, alice):
    sessions.session_create(user=alice, meta=META, method="password")
    response = act(sa_client, "deactivate_users", alice)
    assert "Deactivated: 1 user(s)." in notes(response)
    alice.refresh_from_db()
    assert alice.is_active is False
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert AuditLog.objects.filter(action="user_deactivate", actor=superadmin).exists()
    act(sa_client, "reactivate_users", alice)
    assert User.objects.get(pk=alice.pk).is_active is True
    assert AuditLog.objects.filter(action="user_reactivate", actor=superadmin).exists()


def test_an_admin_cannot_act_on_a_super_admin_or_themselves(staff_client, staff, superadmin, alice):
    response = act(staff_client, "deactivate_users", superadmin, staff, alice)
    messages = notes(response)
    assert any("Only a super admin can deactivate a super admin" in m for m in messages)
    assert any("cannot deactivate your own account" in m for m in messages)
    assert "Deactivated: 1 user(s)." in messages
    assert User.objects.get(pk=superadmin.pk).is_active is True
    assert User.objects.get(pk=staff.pk).is_active is True
    assert User.objects.get(pk=alice.pk).is_active is False


def test_unlock_clears_both_lockouts(sa_client, superadmin, alice, bob):
    soon = timezone.now() + timedelta(minutes=10)
    User.objects.filter(pk=alice.pk).update(
        locked_until=soon, failed_login_attempts=3, otp_locked_until=soon, otp_failed_attempts=5
    )
    response = act(sa_client, "unlock_users", alice, bob)
    assert "Unlocked: 1 user(s)." in notes(response)  # bob was not locked
    alice.refresh_from_db()
    assert alice.locked_until is None and alice.failed_login_attempts == 0
    assert alice.otp_locked_until is None and alice.otp_failed_attempts == 0
    assert AuditLog.objects.filter(action="account_unlock", actor=superadmin).count() == 1


def test_resend_verification_emails_unverified_users(
    sa_client, superadmin, alice, bob, django_capture_on_commit_callbacks
):
    User.objects.filter(pk=bob.pk).update(email_verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = act(sa_client, "resend_verification", alice, bob)
    messages = notes(response)
    assert any("already verified" in m for m in messages)  # alice
    assert "Verification email sent to: 1 user(s)." in messages
    assert "/verify-email?token=" in last_email_to(bob.email).body
    assert AuditLog.objects.filter(
        action="verification_resend", actor=superadmin, target_id=str(bob.pk)
    ).exists()


def test_sign_out_everywhere_revokes_every_session(sa_client, superadmin, alice):
    for _ in range(3):
        sessions.session_create(user=alice, meta=META, method="password")
    act(sa_client, "sign_out_everywhere", alice)
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()
    entry = AuditLog.objects.get(action="force_logout")
    assert entry.actor == superadmin and entry.metadata["revoked"] == 3


def test_block_last_ip_blocks_the_last_sign_in_address(sa_client, superadmin, alice, bob):
    User.objects.filter(pk=alice.pk).update(last_login_ip="198.51.100.99")
    response = act(sa_client, "block_last_ip", alice, bob)
    messages = notes(response)
    assert any("has no recorded sign-in address" in m for m in messages)  # bob
    block = IPBlock.objects.get()
    assert block.ip_address == "198.51.100.99" and block.is_active
    assert AuditLog.objects.filter(action="ip_block", actor=superadmin).exists()
    again = act(sa_client, "block_last_ip", alice)
    assert any("already blocked" in m for m in notes(again))


def test_block_last_ip_never_blocks_the_caller(sa_client, alice):
    User.objects.filter(pk=alice.pk).update(last_login_ip="127.0.0.1")  # the test client's
    response = act(sa_client, "block_last_ip", alice)
    assert any("your own IP address" in m for m in notes(response))
    assert not IPBlock.objects.exists()


# --- the forms ---------------------------------------------------------------------------------------


def test_profile_edits_go_through_the_profile_service(sa_client, superadmin, alice):
    response = sa_client.post(change_url(alice), change_data(alice, name="Alice Edited"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(pk=alice.pk).name == "Alice Edited"
    entry = AuditLog.objects.get(action="user_update")
    assert entry.actor == superadmin and entry.changes["name"] == [alice.name, "Alice Edited"]


def test_a_super_admin_changes_a_role_in_the_form_through_the_rules(sa_client, superadmin, alice):
    sa_client.post(change_url(alice), change_data(alice, role=Role.ADMIN))
    assert User.objects.get(pk=alice.pk).role == Role.ADMIN
    assert AuditLog.objects.filter(action="role_change", actor=superadmin).exists()


def test_admins_cannot_grant_admin_in_the_form(staff_client, alice):
    response = staff_client.post(change_url(alice), change_data(alice, role=Role.ADMIN))
    assert response.status_code == 200  # the choice is not offered
    assert "role" in response.context["adminform"].form.errors
    assert User.objects.get(pk=alice.pk).role == Role.USER


def test_nobody_edits_their_own_role_in_the_form(sa_client, superadmin):
    sa_client.post(change_url(superadmin), change_data(superadmin, role=Role.USER))
    assert User.objects.get(pk=superadmin.pk).role == Role.SUPER_ADMIN


def test_admins_only_view_a_super_admin(staff_client, superadmin):
    assert staff_client.get(change_url(superadmin)).status_code == 200  # view only
    response = staff_client.post(change_url(superadmin), change_data(superadmin, name="Hacked"))
    assert response.status_code == 403
    assert User.objects.get(pk=superadmin.pk).name == "Sam Super"


def test_status_fields_are_not_editable_in_the_form(sa_client, alice):
    sa_client.post(change_url(alice), change_data(alice, is_active="", email_verified=""))
    alice.refresh_from_db()
    assert alice.is_active is True and alice.email_verified is True


def test_super_admins_add_users_through_the_services(sa_client, superadmin):
    response = sa_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New@Example.com",
            "name": "New Person",
            "role": Role.PREMIUM,
            "password1": "Sup3r-secret-1",
            "password2": "Sup3r-secret-1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new@example.com")
    assert user.role == Role.PREMIUM and user.email_verified is True
    assert check_password("Sup3r-secret-1", user.password)
    assert AuditLog.objects.filter(action="user_create", actor=superadmin).exists()


def test_the_add_form_applies_keels_password_policy(sa_client):
    response = sa_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "n@example.com",
            "name": "N",
            "role": "user",
            "password1": "alllowercase1",
            "password2": "alllowercase1",
        },
    )
    assert response.status_code == 200
    assert "uppercase" in str(response.context["adminform"].form.errors)
    assert not User.objects.filter(email="n@example.com").exists()


def test_admins_cannot_add_users(staff_client):
    assert staff_client.get("/admin/accounts/user/add/").status_code == 403


def test_setting_a_password_applies_the_policy_and_signs_out(sa_client, alice):
    sessions.session_create(user=alice, meta=META, method="password")
    url = f"/admin/accounts/user/{alice.pk}/password/"
    weak = sa_client.post(url, {"password1": "weak", "password2": "weak"})
    assert weak.status_code == 200
    response = sa_client.post(url, {"password1": "Brand-New-7x", "password2": "Brand-New-7x"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("Brand-New-7x")
    assert not UserSession.objects.filter(user=alice, revoked_at__isnull=True).exists()


def test_only_super_admins_set_passwords_here(staff_client, alice):
    url = f"/admin/accounts/user/{alice.pk}/password/"
    assert staff_client.get(url).status_code == 403
    staff_client.post(url, {"password1": "Brand-New-7x", "password2": "Brand-New-7x"})
    assert not User.objects.get(pk=alice.pk).check_password("Brand-New-7x")
