"""Forms of the sign-in pages (allauth's, extended, and Keel's own)."""

from __future__ import annotations

from typing import Any

from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from django import forms
from django.http import HttpRequest

from accounts.auth import verification
from config.net import request_client_ip


class ResetPasswordForm(AllauthResetPasswordForm):
    """Sends Keel's reset email (link to /reset-password?token=…) instead of allauth's."""

    def clean_email(self) -> str:
        return self.cleaned_data["email"].lower()

    def save(self, request: HttpRequest, **kwargs: Any) -> str:
        email = self.cleaned_data["email"]
        verification.password_reset_request(email=email, ip=request_client_ip(request) or "")
        return email


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Authentication code",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autofocus": True,
                "placeholder": "123456 or XXXX-XXXX",
            }
        ),
    )


class NewPasswordForm(forms.Form):
    password1 = forms.CharField(
        label="New password",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="New password (again)",
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords do not match.")
        return data
