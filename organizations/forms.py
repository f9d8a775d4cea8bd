"""Forms of the organization pages (organizations.views). They only shape input: every rule
(slug syntax, seats, roles, owners) is the services' and comes back as a DomainError."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.text import slugify

from organizations.models import OrgRole

INVITE_ROLES = [(OrgRole.MEMBER, "Member"), (OrgRole.ADMIN, "Admin")]
KEY_ROLES = [(OrgRole.MEMBER, "Member"), (OrgRole.ADMIN, "Admin")]
KEY_EXPIRY = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        widget=forms.TextInput(attrs={"autocomplete": "organization", "placeholder": "Acme Inc."}),
    )
    slug = forms.CharField(
        max_length=63,
        required=False,
        label="URL name",
        help_text="Lowercase letters, digits and hyphens; it appears in links such as /org/acme/. "
        "Left empty, it is made from the name.",
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "placeholder": "acme"}
        ),
    )

    def service_slug(self) -> str:
        return self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name", ""))[:63]


class OrganizationRenameForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=255,
        label="Email address",
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@example.com"}),
    )
    role = forms.ChoiceField(choices=INVITE_ROLES, initial=OrgRole.MEMBER, label="Role")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=OrgRole.choices, label="Role")


class APIKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Name", widget=forms.TextInput(attrs={"placeholder": "CI deploys"})
    )
    role = forms.ChoiceField(choices=KEY_ROLES, initial=OrgRole.MEMBER, label="Role")
    expires_in = forms.ChoiceField(choices=KEY_EXPIRY, required=False, label="Expires")

    def service_data(self) -> dict[str, Any]:
        days = self.cleaned_data.get("expires_in")
        expires_at: datetime | None = timezone.now() + timedelta(days=int(days)) if days else None
        return {
            "name": self.cleaned_data["name"],
            "role": self.cleaned_data["role"],
            "expires_at": expires_at,
        }


class TransferForm(forms.Form):
    user_id = forms.TypedChoiceField(coerce=int, label="New owner")

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["user_id"])
        field.choices = [("", "Choose a member…"), *members]


class DeleteForm(forms.Form):
    confirm = forms.CharField(
        max_length=63,
        label="Type the organization's URL name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, slug: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.slug:
            raise forms.ValidationError(f"Type {self.slug} to confirm.")
        return value
