"""Shapes of the organizations API (contract §4.1)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.auth.serializers import iso
from config.serializers import IdField, envelope_of
from organizations.models import Invitation, Organization, OrgAPIKey, OrgRole


def organization_data(organization: Organization, role: str) -> dict[str, Any]:
    return {
        "id": organization.pk,
        "name": organization.name,
        "slug": organization.slug,
        "plan": organization.plan,
        "created_at": iso(organization.created_at),
        "role": role,
    }


# The columns of a member as the API writes it: lists read them as plain rows (a 1,000-member
# list spent most of its time building model instances and loading columns it never wrote out).
MEMBER_ROW_FIELDS = ("id", "user_id", "user__email", "user__name", "role", "status", "joined_at")


def member_row_data(row: dict[str, Any]) -> dict[str, Any]:
    """A member from a row of MEMBER_ROW_FIELDS."""
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "email": row["user__email"],
        "name": row["user__name"],
        "role": row["role"],
        "status": row["status"],
        "joined_at": iso(row["joined_at"]),
    }


def invitation_data(invitation: Invitation) -> dict[str, Any]:
    inviter = invitation.invited_by
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": (inviter.name or inviter.email) if inviter else "",
        "expires_at": iso(invitation.expires_at),
        "created_at": iso(invitation.created_at),
    }


def api_key_data(key: OrgAPIKey) -> dict[str, Any]:
    creator = key.created_by
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "role": key.role,
        "created_by": (creator.name or creator.email) if creator else None,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "expires_at": iso(key.expires_at),
    }


# --- Documented shapes (OpenAPI) and inputs -------------------------------------------------------


class OrganizationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    plan = serializers.CharField()
    created_at = serializers.DateTimeField()
    role = serializers.CharField()


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()
    joined_at = serializers.DateTimeField(allow_null=True)


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    invited_by = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()


class APIKeyOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField()
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    key = serializers.CharField(required=False, help_text="only in the create response")


class MessageDataOutput(serializers.Serializer):
    message = serializers.CharField()


OrgMessageEnvelope = envelope_of(MessageDataOutput, "OrgMessageEnvelope")
OrganizationEnvelope = envelope_of(OrganizationOutput, "OrganizationEnvelope")
OrganizationListEnvelope = envelope_of(OrganizationOutput, "OrganizationListEnvelope", many=True)
MemberListEnvelope = envelope_of(MemberOutput, "MemberListEnvelope", many=True)
InvitationEnvelope = envelope_of(InvitationOutput, "InvitationEnvelope")
InvitationListEnvelope = envelope_of(InvitationOutput, "InvitationListEnvelope", many=True)
APIKeyEnvelope = envelope_of(APIKeyOutput, "APIKeyEnvelope")
APIKeyListEnvelope = envelope_of(APIKeyOutput, "APIKeyListEnvelope", many=True)


SLUG_PATH_SCHEMA = {
    "type": "string",
    "minLength": 2,
    "maxLength": 63,
    "pattern": r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
}


@extend_schema_field(
    {
        "type": "string",
        "minLength": 2,
        "maxLength": 63,
        "pattern": r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$",
        "description": "Stored lowercased, so it matches `^[a-z0-9]+(?:-[a-z0-9]+)*$`; "
        "`new`, `api`, `admin` and `settings` are reserved.",
    }
)
class SlugInputField(serializers.CharField):
    """An organization slug as sent: the pattern is checked by `services.slug_validate`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=2, max_length=63, trim_whitespace=False, **kwargs)


class OrganizationCreateInput(serializers.Serializer):
    name = serializers.CharField(min_length=2, max_length=100)
    slug = SlugInputField()


class OrganizationUpdateInput(serializers.Serializer):
    name = serializers.CharField(min_length=2, max_length=100)


class TransferInput(serializers.Serializer):
    user_id = IdField()


class InviteInput(serializers.Serializer):
    email = serializers.EmailField(max_length=255)
    role = serializers.ChoiceField(choices=[OrgRole.ADMIN, OrgRole.MEMBER], default=OrgRole.MEMBER)


class OrgRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=OrgRole.choices)


class TokenInput(serializers.Serializer):
    token = serializers.CharField(max_length=200, required=False)


class APIKeyInput(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=100)
    role = serializers.ChoiceField(choices=[OrgRole.ADMIN, OrgRole.MEMBER], default=OrgRole.MEMBER)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
