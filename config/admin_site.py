"""Keel's Django admin site: the stock one, plus the `require_2fa_for_admins` rule (contract
§11): staff who have not enrolled in 2FA see a 403 page pointing to their security settings."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from config.permissions import staff_refusal

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class KeelAdminSite(admin.AdminSite):
    site_header = "Keel administration"
    site_title = "Keel admin"
    index_title = "Operations"

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Staff sign in through Keel's sign-in page like everyone else (lockout, login
        history, 2FA, session rows); Django's own admin login form is not used."""
        if request.user.is_authenticated:
            if request.user.is_staff:
                target = request.GET.get(REDIRECT_FIELD_NAME, "")
                safe = url_has_allowed_host_and_scheme(
                    target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
                )
                return redirect(target if target and safe else "admin:index")
            return render(
                request, "errors/403.html", {"message": "Staff access required"}, status=403
            )
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
        return redirect_to_login(target, settings.LOGIN_URL)

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = getattr(request, "user", None)
            refusal = (
                staff_refusal(user)
                if user is not None and user.is_authenticated and user.is_staff
                else None
            )
            if refusal is not None:
                return render(
                    request,
                    "errors/403.html",
                    {
                        "message": refusal.message,
                        "action_url": refusal.action_url,
                        "action_label": refusal.action_label,
                    },
                    status=403,
                )
            return inner(request, *args, **kwargs)

        # Like Django's own wrapper, `guarded` takes and answers what `view` does.
        return cast(View, guarded)
