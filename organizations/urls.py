"""Organizations API routes (contract §4)."""

from __future__ import annotations

from django.urls import path

from organizations import api

ORG = "organizations/<str:slug>"

urlpatterns = [
    path("organizations", api.OrganizationListView.as_view(), name="organizations"),
    path(ORG, api.OrganizationDetailView.as_view(), name="organization"),
    path(f"{ORG}/leave", api.LeaveView.as_view(), name="organization-leave"),
    path(
        f"{ORG}/transfer-ownership",
        api.TransferOwnershipView.as_view(),
        name="organization-transfer-ownership",
    ),
    path(f"{ORG}/members", api.MemberListView.as_view(), name="organization-members"),
    path(f"{ORG}/members/invite", api.InviteView.as_view(), name="organization-invite"),
    path(
        f"{ORG}/members/<int:user_id>/role",
        api.MemberRoleView.as_view(),
        name="organization-member-role",
    ),
    path(
        f"{ORG}/members/<int:user_id>", api.MemberDetailView.as_view(), name="organization-member"
    ),
    path(f"{ORG}/invitations", api.InvitationListView.as_view(), name="organization-invitations"),
    path(
        f"{ORG}/invitations/<int:invitation_id>",
        api.InvitationDetailView.as_view(),
        name="organization-invitation",
    ),
    path(
        f"{ORG}/invitations/<int:invitation_id>/resend",
        api.InvitationResendView.as_view(),
        name="organization-invitation-resend",
    ),
    path(f"{ORG}/api-keys", api.APIKeyListView.as_view(), name="organization-api-keys"),
    path(
        f"{ORG}/api-keys/<int:key_id>",
        api.APIKeyDetailView.as_view(),
        name="organization-api-key",
    ),
    path("invitations/accept", api.InvitationAcceptView.as_view(), name="invitations-accept"),
    path("invitations/decline", api.InvitationDeclineView.as_view(), name="invitations-decline"),
]
