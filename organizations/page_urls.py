"""Page routes of the organizations app (outside /api; contract §0.1)."""

from __future__ import annotations

from django.urls import path

from organizations import views

org = "org/<slug:slug>/"

urlpatterns = [
    path("org/new", views.organization_create_page, name="org_new"),
    path(org, views.dashboard_page, name="org_dashboard"),
    path(f"{org}select", views.organization_select_page, name="org_select"),
    path(f"{org}settings/", views.settings_page, name="org_settings"),
    path(f"{org}members/", views.members_page, name="org_members"),
    path(f"{org}members/<int:user_id>/role", views.member_role_page, name="org_member_role"),
    path(f"{org}members/<int:user_id>/remove", views.member_remove_page, name="org_member_remove"),
    path(f"{org}invitations/", views.invitations_page, name="org_invitations"),
    path(
        f"{org}invitations/<int:invitation_id>/resend",
        views.invitation_resend_page,
        name="org_invitation_resend",
    ),
    path(
        f"{org}invitations/<int:invitation_id>/revoke",
        views.invitation_revoke_page,
        name="org_invitation_revoke",
    ),
    path(f"{org}api-keys/", views.api_keys_page, name="org_api_keys"),
    path(
        f"{org}api-keys/<int:key_id>/revoke", views.api_key_revoke_page, name="org_api_key_revoke"
    ),
    path(f"{org}danger/", views.danger_page, name="org_danger"),
    path(f"{org}transfer", views.transfer_page, name="org_transfer"),
    path(f"{org}delete", views.delete_page, name="org_delete"),
    path(f"{org}leave", views.leave_page, name="org_leave"),
    path("invitations/accept", views.invitation_accept_page, name="invitation_accept_page"),
]
