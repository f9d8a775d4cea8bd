"""Billing pages (contract §0.1 `/billing`; §5): pricing, the user's billing, the return pages
of Stripe Checkout, and an organization's billing.

Thin views over the same services and selectors as the API (billing.api): a checkout or portal
form calls the service and answers 303 to the Stripe URL it returns. Services raise
DomainErrors (409 already subscribed, 400 unknown price or no billing account, 502 Stripe,
503 billing off); the pages show them as flash messages on the page the form came from,
never as an error page. Reads come from the local mirror (billing.pages_data), so every page
renders with billing off too and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.core.requests import AuthenticatedHttpRequest
from billing import pages_data, services
from billing.forms import ORGANIZATION_RETURNS, PERSONAL_RETURNS, CheckoutForm
from billing.gateway import billing_enabled
from config.errors import DomainError
from organizations.access import OrgActor
from organizations.models import OrgRole
from organizations.views import org_page

ADMIN, OWNER = OrgRole.ADMIN, OrgRole.OWNER


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: the browser follows with a GET (the form's POST is not repeated at Stripe)."""

    status_code = 303


# Where checkout and portal forms end up: their 303 leads to Stripe's hosted pages.
STRIPE_HOSTED_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")


def stripe_form_csp() -> str | None:
    """The site's CSP with Stripe's hosted pages (and a Stripe-compatible API's own origin, such
    as the sandbox's) added to `form-action`: browsers apply `form-action` to a form's redirects
    too, so `form-action 'self'` would stop the 303 to Checkout. None: nothing to change."""
    if not settings.SECURITY_HEADERS_ENABLED:
        return None
    origins = list(STRIPE_HOSTED_ORIGINS)
    api = urlsplit(settings.STRIPE_API_BASE)
    if api.scheme and api.netloc and api.netloc != "api.stripe.com":
        origins.append(f"{api.scheme}://{api.netloc}")
    directives = [d.strip() for d in settings.SECURITY_CSP.split(";") if d.strip()]
    changed = False
    for index, directive in enumerate(directives):
        name, *sources = directive.split()
        if name == "form-action" and "'none'" not in sources:
            directives[index] = " ".join([name, *sources, *origins])
            changed = True
    return "; ".join(directives) if changed else None


def with_stripe_forms(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For pages with checkout or portal forms: the CSP of stripe_form_csp."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        policy = stripe_form_csp()
        if policy and response.status_code == 200:
            response["Content-Security-Policy"] = policy
        return response

    return wrapped


def _message(exc: DomainError) -> str:
    # `text` is the message without the "<field>: " the API envelope puts first.
    return exc.text


def _to_stripe(
    request: HttpRequest, back: str, start: Callable[[], dict[str, str]]
) -> HttpResponse:
    """Start a checkout or portal session and send the browser there; on a DomainError, back to
    the page the form was on with the error as a message."""
    try:
        session = start()
    except DomainError as exc:
        messages.error(request, _message(exc))
        return redirect(back)
    return HttpResponseSeeOther(session["url"])


def _org_url(slug: str, **query: str) -> str:
    path = reverse("org_billing", args=[slug])
    suffix = "&".join(f"{key}={value}" for key, value in query.items())
    return f"{settings.SITE_URL}{path}{'?' + suffix if suffix else ''}"


# --- Pricing --------------------------------------------------------------------------------------


@require_GET
@with_stripe_forms
def pricing_page(request: HttpRequest) -> HttpResponse:
    """The plans (open to everyone); signed in, the current plan marked and buttons to subscribe
    personally or, for each organization the user owns, the organization."""
    context: dict[str, Any] = {"cards": pages_data.plan_cards(), "back": "pricing"}
    if request.user.is_authenticated:
        user = request.user
        context.update(pages_data.personal_billing(user))
        orgs = pages_data.owned_organizations(user)
        for card in context["cards"]:
            card.orgs = orgs
    else:
        context["billing_enabled"] = billing_enabled()
    return render(request, "billing/pricing.html", context)


# --- The user's billing ---------------------------------------------------------------------------


@login_required
@require_GET
@with_stripe_forms
def billing_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = pages_data.personal_billing(request.user)
    context.update(cards=pages_data.plan_cards(), back="billing")
    return render(request, "billing/billing.html", context)


@login_required
@require_POST
def checkout_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = CheckoutForm(request.POST)
    back = form.back_to(PERSONAL_RETURNS)
    if not form.is_valid():
        messages.error(request, "Choose a plan.")
        return redirect(back)
    return _to_stripe(
        request,
        back,
        lambda: services.checkout_session_create(
            user=request.user, price_id=form.cleaned_data["price_id"]
        ),
    )


@login_required
@require_POST
def portal_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _to_stripe(request, "billing", lambda: services.portal_session_create(user=request.user))


@login_required
@require_GET
def checkout_success_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Stripe's `success_url`: the webhook may not have arrived yet, so the plan shown is the
    one the mirror has now and the page says it is being activated."""
    context = pages_data.personal_billing(request.user)
    return render(request, "billing/success.html", context)


@login_required
@require_GET
def checkout_cancel_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = pages_data.personal_billing(request.user)
    return render(request, "billing/cancel.html", context)


# --- An organization's billing --------------------------------------------------------------------


def _org_context(actor: OrgActor, **extra: Any) -> dict[str, Any]:
    """The org frame's context (templates/organizations/base.html) for the billing section."""
    return {
        "org": actor.organization,
        "actor": actor,
        "role": actor.role,
        "is_admin": actor.at_least(ADMIN),
        "is_owner": actor.at_least(OWNER),
        "section": "billing",
        **extra,
    }


@with_stripe_forms
@org_page(ADMIN)
def org_billing_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    """Admins see the org's plan, seats and invoices; owners also its checkout and portal.
    `?checkout=success|cancel`: back from Stripe Checkout."""
    checkout = request.GET.get("checkout")
    context = _org_context(
        actor,
        checkout=checkout if checkout in ("success", "cancel") else None,
        cards=pages_data.plan_cards(),
        back="org_billing",
        **pages_data.organization_billing(actor.organization),
    )
    return render(request, "billing/org_billing.html", context)


@org_page(OWNER, methods=("POST",))
def org_checkout_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    slug = actor.organization.slug
    form = CheckoutForm(request.POST)
    back = form.back_to(ORGANIZATION_RETURNS)
    back_url = reverse(back, args=[slug]) if back == "org_billing" else reverse(back)
    if not form.is_valid():
        messages.error(request, "Choose a plan.")
        return redirect(back_url)
    assert actor.user is not None  # a page's actor is a signed-in member
    user = actor.user
    return _to_stripe(
        request,
        back_url,
        lambda: services.checkout_session_create(
            user=user,
            price_id=form.cleaned_data["price_id"],
            organization=actor.organization,
            success_url=_org_url(slug, checkout="success"),
            cancel_url=_org_url(slug, checkout="cancel"),
        ),
    )


@org_page(OWNER, methods=("POST",))
def org_portal_page(request: HttpRequest, actor: OrgActor) -> HttpResponse:
    assert actor.user is not None
    user, slug = actor.user, actor.organization.slug
    return _to_stripe(
        request,
        reverse("org_billing", args=[slug]),
        lambda: services.portal_session_create(
            user=user, organization=actor.organization, return_url=_org_url(slug)
        ),
    )
