"""Settings pages of the signed-in user (contract pages `/settings/...`): profile and avatar,
preferences, activity. They call the same services as the `/users/me*` API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.core import selectors
from accounts.core.avatars import avatar_url
from accounts.core.requests import AuthenticatedHttpRequest
from accounts.profile import services as profile
from accounts.profile.forms import AvatarForm, PreferencesForm, ProfileForm
from config.errors import DomainError
from config.pages import flash_error, form_error


@login_required
@require_http_methods(["GET", "POST"])
def profile_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    initial = {"name": user.name, "email": user.email, "bio": user.bio, "location": user.location}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            updated = profile.user_profile_update(user=user, data=form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            if updated.email != user.email:
                messages.info(request, f"Check {updated.email} for a link to verify it.")
            messages.success(request, "Profile saved.")
            return redirect("settings_profile")
    context = {
        "form": form,
        "avatar_form": AvatarForm(),
        "avatar_url": avatar_url(user),
    }
    return render(request, "account/profile.html", context)


@login_required
@require_POST
def avatar_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.POST.get("remove"):
        profile.avatar_delete(user=request.user)
        messages.success(request, "Picture removed.")
        return redirect("settings_profile")
    form = AvatarForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a picture to upload.")
        return redirect("settings_profile")
    try:
        profile.avatar_set(user=request.user, content=form.cleaned_data["avatar"].read())
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "Picture updated.")
    return redirect("settings_profile")


@login_required
@require_http_methods(["GET", "POST"])
def preferences_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    prefs = profile.preferences_get(user=request.user)
    initial = {
        "theme": prefs.theme,
        "timezone": prefs.timezone,
        "language": prefs.language,
        "date_format": prefs.date_format,
        "time_format": prefs.time_format,
        **prefs.email_notifications,
    }
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            profile.preferences_update(user=request.user, data=form.service_data())
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, "Preferences saved.")
            return redirect("settings_preferences")
    return render(request, "account/preferences.html", {"form": form})


@login_required
def activity_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    entries, total = selectors.activity_list(user=request.user, limit=50)
    rows = [{"entry": e, "label": e.action.replace("_", " ").capitalize()} for e in entries]
    return render(request, "account/activity.html", {"rows": rows, "total": total})
