"""Forms of the settings pages: profile, picture, preferences."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from accounts.models import DateFormat, Language, Theme, TimeFormat


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
