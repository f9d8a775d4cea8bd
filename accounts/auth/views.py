"""Browser pages of the accounts app that allauth does not draw: the second-factor step of
sign-in, the email-link targets (/verify-email, /reset-password) and /settings/security/."""

from __future__ import annotations

from collections.abc import Callable

from allauth.account.stages import LoginStageController
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.auth import services, sessions, two_factor, verification
from accounts.auth.allauth_internals import record_authentication
from accounts.auth.forms import CodeForm, NewPasswordForm
from accounts.auth.stages import TwoFactorStage
from accounts.core import selectors
from accounts.core.requests import AuthenticatedHttpRequest
from accounts.models import User, UserSession
from config.errors import DomainError
from config.net import request_client_ip


@require_http_methods(["GET", "POST"])
def two_factor_challenge(request: HttpRequest) -> HttpResponse:
    """Sign-in step 2 for users with 2FA: a TOTP or backup code, with the 2FA lockout."""
    stage = LoginStageController.enter(request, TwoFactorStage.key)
    if stage is None or stage.login.user is None:
        return redirect("account_login")
    user: User = stage.login.user
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.second_factor_check(
                user=user, otp_code=form.cleaned_data["code"], meta=sessions.RequestMeta.of(request)
            )
        except DomainError as exc:
            form.add_error("code", exc.message)
        else:
            record_authentication(request, user, method="mfa", type="totp")
            return stage.exit()
    return render(request, "account/two_factor_challenge.html", {"form": form}, status=200)


@require_http_methods(["GET"])
def verify_email_page(request: HttpRequest) -> HttpResponse:
    """Target of the verification link: `/verify-email?token=…`."""
    try:
        user = verification.email_verify(token=request.GET.get("token", ""))
    except DomainError as exc:
        return render(
            request,
            "account/verify_email_result.html",
            {"ok": False, "message": exc.message, "expired": exc.code == "TOKEN_EXPIRED"},
            status=400,
        )
    return render(request, "account/verify_email_result.html", {"ok": True, "email": user.email})


@require_http_methods(["GET", "POST"])
def reset_password_page(request: HttpRequest) -> HttpResponse:
    """Target of the reset link: `/reset-password?token=…` → a new password."""
    token = request.GET.get("token") or request.POST.get("token") or ""
    try:
        user = verification.password_reset_user(token=token)
    except DomainError as exc:
        return render(
            request,
            "account/reset_password_page.html",
            {"invalid": True, "message": exc.message},
            status=400,
        )
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            verification.password_reset_confirm(
                token=token,
                password=form.cleaned_data["password1"],
                ip=request_client_ip(request) or "",
            )
        except DomainError as exc:
            form.add_error("password1", exc.text)
        else:
            messages.success(request, "Your password has been changed. Please sign in.")
            return redirect("account_login")
    return render(
        request,
        "account/reset_password_page.html",
        {"form": form, "token": token, "email": user.email},
    )


# --- /settings/security/ ------------------------------------------------------------------------


def _current_session_id(request: AuthenticatedHttpRequest) -> int | None:
    """The session row of this browser: remembered at sign-in, else found by its binding."""
    value = request.session.get("keel_session_id")
    if isinstance(value, int):
        return value
    key = request.session.session_key
    if not key:
        return None
    return (
        UserSession.objects.filter(
            user=request.user, django_session_key=key, revoked_at__isnull=True
        )
        .values_list("pk", flat=True)
        .first()
    )


@login_required
def security_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """2FA, email verification, sessions and recent sign-ins of the signed-in user."""
    return _security_page(request)


def _security_page(
    request: AuthenticatedHttpRequest, backup_codes: list[str] | None = None
) -> HttpResponse:
    """The security page; new backup codes are shown once, in the response that made them
    (never parked in the session store)."""
    user = request.user
    status = two_factor.two_factor_status(user=user)
    pending = None if status.enabled else two_factor.totp_setup_pending(user=user)
    context = {
        "status": status,
        "pending": pending,
        "backup_codes": backup_codes,
        "sessions": selectors.session_list_active(user=user),
        "current_session_id": _current_session_id(request),
        "history": selectors.login_history_list(user=user)[:10],
        "code_form": CodeForm(),
    }
    return render(request, "account/security.html", context)


@login_required
def login_history_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.login_history_list(user=request.user), 25)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "account/login_history.html", {"page": page})


def _run(
    request: AuthenticatedHttpRequest, success: str, action: Callable[[], object]
) -> HttpResponse:
    try:
        result = action()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
        if isinstance(result, list):  # new backup codes: shown once, right here
            response = _security_page(request, backup_codes=result)
            response["Cache-Control"] = "no-store"
            return response
    return redirect("settings_security")


@login_required
@require_POST
def two_factor_setup_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _run(
        request,
        "Scan the QR code with your authenticator app, then enter the code it shows.",
        lambda: two_factor.two_factor_setup(user=request.user) and None,
    )


@login_required
@require_POST
def two_factor_enable_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    code = request.POST.get("code", "")
    return _run(
        request,
        "Two-factor authentication is on.",
        lambda: two_factor.two_factor_enable(
            user=request.user, code=code, ip=request_client_ip(request) or ""
        ),
    )


@login_required
@require_POST
def two_factor_disable_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    code = request.POST.get("code", "")
    return _run(
        request,
        "Two-factor authentication is off.",
        lambda: two_factor.two_factor_disable(
            user=request.user, code=code, ip=request_client_ip(request) or ""
        ),
    )


@login_required
@require_POST
def backup_codes_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    code = request.POST.get("code", "")
    return _run(
        request,
        "New backup codes generated; the old ones no longer work.",
        lambda: two_factor.backup_codes_regenerate(user=request.user, code=code),
    )


@login_required
@require_POST
def session_revoke_page(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    return _run(
        request,
        "Session signed out.",
        lambda: sessions.session_revoke(user=request.user, session_id=session_id) and None,
    )


@login_required
@require_POST
def sessions_revoke_others_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _run(
        request,
        "Every other session has been signed out.",
        lambda: (
            sessions.sessions_revoke_all(
                user=request.user, except_session_id=_current_session_id(request)
            )
            and None
        ),
    )


@login_required
@require_POST
def verification_resend_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    try:
        sent = verification.email_verification_send(user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if sent:
            messages.success(request, "Verification email sent. Check your inbox.")
        else:
            messages.info(request, "We sent one less than a minute ago; check your inbox.")
    return redirect("settings_security")
