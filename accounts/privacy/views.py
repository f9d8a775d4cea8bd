"""/settings/privacy/: download your data (GDPR export) and delete your account.

The export's progress is polled by static/js/keel.js from `GET /api/v1/users/me/export` (the
page session authenticates the API too); the forms post to the views below, which call the
same services as the API and report back with flash messages."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.core.requests import AuthenticatedHttpRequest
from accounts.models import ExportStatus
from accounts.privacy import services as privacy
from config.errors import DomainError
from config.pages import flash_error


@login_required
def privacy_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in user's data export and account deletion."""
    user = request.user
    export = privacy.data_export_latest(user=user)
    context = {
        "export": export,
        "export_in_progress": export is not None and export.status in privacy.EXPORT_IN_PROGRESS,
        "export_ready": export is not None and privacy.data_export_download_url(export) is not None,
        "export_failed": export is not None and export.status == ExportStatus.FAILED,
        "download_url": privacy.DOWNLOAD_URL,
        "deletion": privacy.account_deletion_status(user=user),
        "has_password": user.has_usable_password(),
        "grace_days": privacy.DELETION_GRACE.days,
        "confirmation_word": privacy.DELETION_CONFIRMATION,
    }
    response = render(request, "account/privacy.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _run(request: HttpRequest, action: Callable[[], str]) -> HttpResponse:
    """Call one service; its message (or its error, without the field prefix) is flashed."""
    try:
        success = action()
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, success)
    return redirect("settings_privacy")


@login_required
@require_POST
def privacy_export_request_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    def action() -> str:
        privacy.data_export_request(user=request.user)
        return "We are preparing your data. You will also get an email when it is ready."

    return _run(request, action)


@login_required
@require_POST
def privacy_delete_request_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    def action() -> str:
        status = privacy.account_deletion_request(
            user=request.user,
            password=request.POST.get("password") or None,
            confirmation=request.POST.get("confirmation") or None,
            reason=request.POST.get("reason", "")[: privacy.DELETION_REASON_MAX],
        )
        return (
            f"Your account will be deleted on {status.scheduled_for:%d %B %Y}. "
            "Sign in or cancel here before then to keep it."
        )

    return _run(request, action)


@login_required
@require_POST
def privacy_delete_cancel_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    def action() -> str:
        privacy.account_deletion_cancel(user=request.user)
        return "Account deletion has been cancelled. Your account stays."

    return _run(request, action)
