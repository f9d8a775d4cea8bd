"""The extra sign-up field allauth's form adds (ACCOUNT_SIGNUP_FORM_CLASS). Kept apart from
accounts.auth.forms because allauth imports it while building its own forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest


class SignupExtraForm(forms.Form):
    """Fields allauth's sign-up form adds (ACCOUNT_SIGNUP_FORM_CLASS)."""

    name = forms.CharField(
        max_length=255,
        label="Full name",
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": "Ada Lovelace"}),
    )

    field_order = ["name", "email", "password1"]

    def signup(self, request: HttpRequest, user: Any) -> None:
        """The name is saved by AccountAdapter.save_user (through Keel's service)."""
