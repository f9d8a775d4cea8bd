"""Forms of the browser pages (allauth's, extended, and Keel's own)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from django import forms
from django.http import HttpRequest

from accounts import verification
from accounts.models import DateFormat, Language, Theme, TimeFormat
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


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=255, label="Name")
    email = forms.EmailField(
        max_length=255,
        label="Email",
        help_text="Changing it sends a verification link to the new address.",
    )
    bio = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    location = forms.CharField(max_length=255, required=False)


class AvatarForm(forms.Form):
    avatar = forms.FileField(
        label="Picture",
        help_text="JPEG, PNG, GIF or WebP, at most 5 MB. It is cropped to a square.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}
        ),
    )


class PreferencesForm(forms.Form):
    theme = forms.ChoiceField(choices=Theme.choices)
    timezone = forms.ChoiceField(
        choices=[(z, z) for z in sorted(zoneinfo.available_timezones())], label="Time zone"
    )
    language = forms.ChoiceField(choices=Language.choices)
    date_format = forms.ChoiceField(choices=DateFormat.choices, label="Date format")
    time_format = forms.ChoiceField(choices=TimeFormat.choices, label="Time format")
    marketing = forms.BooleanField(required=False, label="Product news and offers")
    security = forms.BooleanField(required=False, label="Security alerts")
    updates = forms.BooleanField(required=False, label="Product updates")
    weekly_digest = forms.BooleanField(required=False, label="Weekly digest")

    NOTIFICATIONS = ("marketing", "security", "updates", "weekly_digest")

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["email_notifications"] = {key: data.pop(key) for key in self.NOTIFICATIONS}
        return data
