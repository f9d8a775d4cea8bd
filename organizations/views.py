"""Organization pages (contract §0.1: `/org/new`, `/org/<slug>/…`, `/invitations/accept?token=`).

Thin views over the same services and selectors as the API (organizations.api). Every
`/org/<slug>/…` page goes through `org_page(min_role)`, the page twin of the API's permission
layer: the caller's role comes from `membership_role_cached`; someone who is not an active
member gets the 404 page (existence is not revealed), a member below the page's role the 403
page. Services raise DomainErrors; pages turn them into form errors or flash messages.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.core.requests import AuthenticatedHttpRequest
from config.errors import Conflict, DomainError
from config.pages import form_error
from organizations import selectors, services
from organizations.access import OrgActor, membership_role_cached
from organizations.forms import (
    APIKeyForm,
    DeleteForm,
    InvitationForm,
    OrganizationCreateForm,
    OrganizationRenameForm,
    RoleForm,
    TransferForm,
)
from organizations.models import Invitation, Organization, OrgRole

MEMBER, ADMIN, OWNER = OrgRole.MEMBER, OrgRole.ADMIN, OrgRole.OWNER
OrgPageView = Callable[..., HttpResponse]


# --- Access ---------------------------------------------------------------------------------------


def org_actor_for_page(request: AuthenticatedHttpRequest, slug: str) -> OrgActor | None:
    """The signed-in user as an actor of the org named `slug`, or None when they are not an
    active member of a live org (the page then answers 404, like the API)."""
    organization = Organization.objects.filter(slug=slug, deleted_at__isnull=True).first()
    if organization is None:
        return None
    role = membership_role_cached(organization_id=organization.pk, user_id=request.user.pk)
    if role is None:
        return None
    return OrgActor(organization=organization, role=role, user=request.user)


def org_page(
    min_role: str, methods: tuple[str, ...] = ("GET",)
) -> Callable[[OrgPageView], OrgPageView]:
    """Resolve `slug` to an OrgActor of at least `min_role` and call `view(request, actor, …)`.

    Signed out → the sign-in page; not a member → 404 page; below the role → 403 page."""

    def decorator(view: OrgPageView) -> OrgPageView:
        @wraps(view)
        def wrapped(request: AuthenticatedHttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
            actor = org_actor_for_page(request, slug)
            if actor is None:
                return render(request, "errors/404.html", status=404)
            if not actor.at_least(min_role):
                context = {
                    "message": f"This page needs the {min_role} role in "
                    f"{actor.organization.name}; you are {actor.role}.",
                    "action_url": reverse("org_dashboard", args=[actor.organization.slug]),
                    "action_label": f"Back to {actor.organization.name}",
                }
                return render(request, "errors/403.html", context, status=403)
            return view(request, actor, **kwargs)

        return login_required(require_http_methods(list(methods))(wrapped))

    return decorator


def _context(actor: OrgActor, section: str, **extra: Any) -> dict[str, Any]:
    return {
        "org": actor.organization,
        "actor": actor,
        "role": actor.role,
        "is_admin": actor.at_least(ADMIN),
        "is_owner": actor.at_least(OWNER),
        "section": section,
        **extra,
    }


def _run(request: HttpRequest, success: str, action: Callable[[], Any]) -> bool:
    """Call a service; flash `success` or the service's message. True when it worked."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return False
    messages.success(request, success)
    return True


def _back(actor: OrgActor, name: str) -> HttpResponse:
    return redirect(name, slug=actor.organization.slug)


# --- Create, switch ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def organization_create_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(
                user=request.user,
                name=form.cleaned_data["name"],
                slug=form.service_slug(),
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"{organization.name} is ready. You are its owner.")
            return redirect("org_dashboard", slug=organization.slug)
    return render(request, "organizations/create.html", {"form": form})


@org_page(MEMBER, methods=("POST",))
def organization_select_page(request: AuthenticatedHttpRequest, actor: OrgActor) -> HttpResponse:
    """The org switcher: remember the org as the user's current one and open it."""
    services.organization_select(user=request.user, organization=actor.organization)
    return _back(actor, "org_dashboard")


# --- Dashboard, settings ----------------------------------------------------------------------


def _seats(actor: OrgActor) -> dict[str, Any]:
    organization = actor.organization
    members = selectors.member_list(organization=organization).count()
    pending = (
        selectors.invitation_list_pending(organization=organization).count()
        if actor.at_least(ADMIN)
        else 0
    )
    limit = services.seat_limit(organization)
    cells: list[str] = []
    if limit:
        cells = ["member"] * min(members, limit)
        cells += ["pending"] * min(pending, limit - len(cells))
        cells += ["free"] * (limit - len(cells))
    return {
        "members": members,
        "pending": pending,
        "limit": limit,
        "free": max(limit - members - pending, 0) if limit else None,
        "cells": cells,
        "full": bool(limit) and members + pending >= limit,
    }


@org_page(MEMBER)
def dashboard_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    context = _context(actor, "overview", seats=_seats(actor))
    return render(request, "organizations/dashboard.html", context)


@org_page(ADMIN, methods=("GET", "POST"))
def settings_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    form = OrganizationRenameForm(request.POST or None, initial={"name": actor.organization.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_update(actor=actor, name=form.cleaned_data["name"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, "Organization settings saved.")
            return _back(actor, "org_settings")
    return render(request, "organizations/settings.html", _context(actor, "settings", form=form))


# --- Members ----------------------------------------------------------------------------------


def _member_rows(actor: OrgActor) -> list[dict[str, Any]]:
    """Members with the controls the caller may use on each (the services decide anyway)."""
    rows = []
    owner_choices = [(value, label) for value, label in OrgRole.choices]
    admin_choices = [c for c in owner_choices if c[0] != OWNER]
    for membership in selectors.member_list(organization=actor.organization):
        is_self = membership.user_id == actor.user_id
        manageable = not is_self and (
            actor.at_least(OWNER) or (actor.at_least(ADMIN) and membership.role != OWNER)
        )
        rows.append(
            {
                "membership": membership,
                "user": membership.user,
                "is_self": is_self,
                "can_manage": manageable,
                "role_choices": (owner_choices if actor.at_least(OWNER) else admin_choices)
                if manageable
                else [],
            }
        )
    return rows


@org_page(MEMBER)
def members_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    context = _context(actor, "members", rows=_member_rows(actor))
    return render(request, "organizations/members.html", context)


@org_page(ADMIN, methods=("POST",))
def member_role_page(request: HttpRequest, actor: OrgActor, user_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or member.")
        return _back(actor, "org_members")
    role = form.cleaned_data["role"]
    _run(
        request,
        f"Role changed to {role}.",
        lambda: services.member_role_change(actor=actor, user_id=user_id, role=role),
    )
    return _back(actor, "org_members")


@org_page(ADMIN, methods=("POST",))
def member_remove_page(request: HttpRequest, actor: OrgActor, user_id: int) -> HttpResponse:
    _run(
        request,
        "Member removed.",
        lambda: services.member_remove(actor=actor, user_id=user_id),
    )
    return _back(actor, "org_members")


# --- Invitations ------------------------------------------------------------------------------


@org_page(ADMIN, methods=("GET", "POST"))
def invitations_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                actor=actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return _back(actor, "org_invitations")
    context = _context(
        actor,
        "invitations",
        form=form,
        invitations=selectors.invitation_list_pending(organization=actor.organization),
        seats=_seats(actor),
    )
    return render(request, "organizations/invitations.html", context)


@org_page(ADMIN, methods=("POST",))
def invitation_resend_page(
    request: HttpRequest, actor: OrgActor, invitation_id: int
) -> HttpResponse:
    _run(
        request,
        "Invitation sent again with a new link; the old link no longer works.",
        lambda: services.invitation_resend(actor=actor, invitation_id=invitation_id),
    )
    return _back(actor, "org_invitations")


@org_page(ADMIN, methods=("POST",))
def invitation_revoke_page(
    request: HttpRequest, actor: OrgActor, invitation_id: int
) -> HttpResponse:
    _run(
        request,
        "Invitation revoked.",
        lambda: services.invitation_revoke(actor=actor, invitation_id=invitation_id),
    )
    return _back(actor, "org_invitations")


# --- API keys ---------------------------------------------------------------------------------


@org_page(ADMIN, methods=("GET", "POST"))
def api_keys_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    """List and create keys. A new key is shown once, in the response that made it (never kept
    in the session); that response is not stored by caches."""
    form = APIKeyForm(request.POST or None)
    new_key: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = services.api_key_create(actor=actor, **form.service_data())
        except DomainError as exc:
            form_error(form, exc)
        else:
            new_key = {"key": key, "raw": raw}
            form = APIKeyForm()
    context = _context(
        actor,
        "api_keys",
        form=form,
        new_key=new_key,
        keys=selectors.api_key_list(organization=actor.organization),
    )
    response = render(request, "organizations/api_keys.html", context)
    if new_key is not None:
        response["Cache-Control"] = "no-store"
    return response


@org_page(ADMIN, methods=("POST",))
def api_key_revoke_page(request: HttpRequest, actor: OrgActor, key_id: int) -> HttpResponse:
    _run(
        request,
        "API key revoked. It no longer works.",
        lambda: services.api_key_revoke(actor=actor, key_id=key_id),
    )
    return _back(actor, "org_api_keys")


# --- Danger zone ------------------------------------------------------------------------------


def _transfer_choices(actor: OrgActor) -> list[tuple[int, str]]:
    return [
        (m.user_id, f"{m.user.display_name} ({m.user.email})")
        for m in selectors.member_list(organization=actor.organization)
        if m.user_id != actor.user_id
    ]


def _danger_page(
    request: HttpRequest,
    actor: OrgActor,
    *,
    transfer_form: TransferForm | None = None,
    delete_form: DeleteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    owners = [m for m in selectors.member_list(organization=actor.organization) if m.role == OWNER]
    context = _context(
        actor,
        "danger",
        sole_owner=actor.role == OWNER and len(owners) <= 1,
        transfer_form=transfer_form or TransferForm(members=_transfer_choices(actor)),
        delete_form=delete_form or DeleteForm(slug=actor.organization.slug),
    )
    return render(request, "organizations/danger.html", context, status=status)


@org_page(MEMBER)
def danger_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    return _danger_page(request, actor)


@org_page(OWNER, methods=("POST",))
def transfer_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    form = TransferForm(request.POST, members=_transfer_choices(actor))
    if not form.is_valid():
        return _danger_page(request, actor, transfer_form=form, status=400)
    target = form.cleaned_data["user_id"]
    if _run(
        request,
        "Ownership transferred. You are now an admin.",
        lambda: services.ownership_transfer(actor=actor, user_id=target),
    ):
        return _back(actor, "org_members")
    return _back(actor, "org_danger")


@org_page(OWNER, methods=("POST",))
def delete_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    form = DeleteForm(request.POST, slug=actor.organization.slug)
    if not form.is_valid():
        return _danger_page(request, actor, delete_form=form, status=400)
    name = actor.organization.name
    if _run(request, f"{name} was deleted.", lambda: services.organization_delete(actor=actor)):
        return redirect("home")
    return _back(actor, "org_danger")


@org_page(MEMBER, methods=("POST",))
def leave_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    name = actor.organization.name
    if _run(request, f"You left {name}.", lambda: services.organization_leave(actor=actor)):
        return redirect("home")
    return _back(actor, "org_danger")


# --- The invitation link ----------------------------------------------------------------------

STATE_MESSAGES = {
    "expired": "This invitation has expired. Ask the person who invited you for a new one.",
    "accepted": "This invitation has already been used.",
    "declined": "This invitation was declined.",
    "cancelled": "This invitation was revoked by the organization.",
}


def _invitation_url(token: str) -> str:
    return f"{reverse('invitation_accept_page')}?{urlencode({'token': token})}"


@require_http_methods(["GET", "POST"])
def invitation_accept_page(request: HttpRequest) -> HttpResponse:
    """Target of the invitation email (`/invitations/accept?token=…`): shows the org, the inviter
    and the role, and handles every case — signed out (sign in / sign up, then back here),
    another account, expired / used / declined / revoked, already a member — with Accept and
    Decline buttons posting back here."""
    token = request.GET.get("token") or request.POST.get("token") or ""
    try:
        invitation = services.invitation_lookup(token=token)
    except DomainError:
        response = render(
            request, "organizations/invitation.html", {"state": "invalid"}, status=404
        )
        response["Cache-Control"] = "no-store"
        return response
    here = _invitation_url(token)
    if request.method == "POST":
        return _invitation_answer(request, invitation, token, here)

    user = request.user
    organization = invitation.organization
    is_member = wrong_account = False
    if user.is_authenticated:
        role = membership_role_cached(organization_id=organization.pk, user_id=user.pk)
        is_member = role is not None
        wrong_account = not is_member and user.email.lower() != invitation.email.lower()
    state = invitation.state
    inviter = invitation.invited_by
    context = {
        "state": state,
        "state_message": STATE_MESSAGES.get(state, ""),
        "invitation": invitation,
        "organization": organization,
        "inviter_name": (inviter.display_name if inviter else "") or "Someone",
        "token": token,
        "here": here,
        "is_member": is_member,
        "wrong_account": wrong_account,
        "login_url": f"{reverse('account_login')}?{urlencode({'next': here})}",
        "signup_url": (
            f"{reverse('account_signup')}?{urlencode({'email': invitation.email, 'next': here})}"
        ),
    }
    status = 200 if state == "pending" or is_member else 400
    response = render(request, "organizations/invitation.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _invitation_answer(
    request: HttpRequest, invitation: Invitation, token: str, here: str
) -> HttpResponse:
    action = request.POST.get("action")
    organization = invitation.organization
    if action == "decline":
        _run(
            request,
            f"You declined the invitation to {organization.name}.",
            lambda: services.invitation_decline(token=token),
        )
        return redirect(here)
    if action != "accept":
        messages.error(request, "Choose Accept or Decline.")
        return redirect(here)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('account_login')}?{urlencode({'next': here})}")
    try:
        services.invitation_accept(token=token, user=request.user)
    except Conflict as exc:  # already a member: nothing to do but go there
        messages.info(request, exc.message)
        return redirect("org_dashboard", slug=organization.slug)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(here)
    messages.success(request, f"Welcome to {organization.name}!")
    return redirect("org_dashboard", slug=organization.slug)
