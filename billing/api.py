"""Billing API (contract §5.2, §4.2): the user's routes answer B, the organization's E."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts.core.requests import AuthenticatedRequest
from billing import selectors, services
from billing.gateway import require_billing
from billing.serializers import (
    BillingConfigOutput,
    CheckoutInput,
    CheckoutOutput,
    OrgBillingEnvelope,
    OrgCheckoutEnvelope,
    OrgPortalEnvelope,
    PlanOutput,
    PortalOutput,
    SubscriptionOutput,
    WebhookAckOutput,
)
from billing.webhooks import webhook_receive
from config.errors import Forbidden, NotFound
from config.responses import envelope
from config.viewsets import validated
from organizations.api import SLUG, OrgView
from organizations.models import OrgRole

ERRORS_502_503 = {
    502: OpenApiResponse(description="Stripe answered with an error or could not be reached"),
    503: OpenApiResponse(description="BILLING_DISABLED: billing is not configured"),
}


@extend_schema(tags=["billing"])
class BillingPublicViewSet(GenericViewSet):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="billing_config", responses={200: BillingConfigOutput})
    def config(self, request: Request) -> Response:
        return Response(selectors.billing_config())

    @extend_schema(
        operation_id="billing_plans",
        responses={200: PlanOutput(many=True), 503: ERRORS_502_503[503]},
    )
    def plans(self, request: Request) -> Response:
        require_billing()
        return Response(selectors.plan_list())


@extend_schema(tags=["billing"])
class BillingViewSet(GenericViewSet):
    def get_serializer_class(self) -> type[BaseSerializer]:
        return CheckoutInput

    @extend_schema(
        operation_id="billing_checkout",
        request=CheckoutInput,
        responses={
            200: CheckoutOutput,
            400: OpenApiResponse(description="price_id: Unknown or inactive price"),
            409: OpenApiResponse(description="A live personal subscription exists"),
            **ERRORS_502_503,
        },
    )
    def checkout(self, request: AuthenticatedRequest) -> Response:
        data = validated(self, request.data)
        return Response(
            services.checkout_session_create(user=request.user, price_id=data["price_id"])
        )

    @extend_schema(
        operation_id="billing_portal",
        request=None,
        responses={
            200: PortalOutput,
            400: OpenApiResponse(description="No billing account yet"),
            **ERRORS_502_503,
        },
    )
    def portal(self, request: AuthenticatedRequest) -> Response:
        return Response(services.portal_session_create(user=request.user))

    @extend_schema(
        operation_id="billing_subscription",
        responses={200: SubscriptionOutput, 404: OpenApiResponse(description="No subscription")},
    )
    def subscription(self, request: AuthenticatedRequest) -> Response:
        subscription = selectors.user_subscription(request.user)
        if subscription is None:
            raise NotFound("No subscription found")
        return Response(
            selectors.subscription_data(subscription, user_id=request.user.pk, organization_id=None)
        )


@extend_schema(tags=["organizations: billing"], parameters=[SLUG])
class OrganizationBillingViewSet(OrgView):
    action_roles: ClassVar[dict[str, str]] = {
        "retrieve": OrgRole.ADMIN,
        "checkout": OrgRole.OWNER,
        "portal": OrgRole.OWNER,
    }

    def get_serializer_class(self) -> type[BaseSerializer]:
        return CheckoutInput

    @extend_schema(operation_id="organizations_billing", responses={200: OrgBillingEnvelope})
    def retrieve(self, request: Request, slug: str) -> Response:
        return envelope(
            "Billing retrieved successfully",
            selectors.organization_billing(self.actor().organization),
        )

    @extend_schema(
        operation_id="organizations_billing_checkout",
        request=CheckoutInput,
        responses={
            200: OrgCheckoutEnvelope,
            400: OpenApiResponse(description="price_id: Unknown or inactive price"),
            409: OpenApiResponse(description="The organization has a live subscription"),
            **ERRORS_502_503,
        },
    )
    def checkout(self, request: Request, slug: str) -> Response:
        actor = self.actor()
        if actor.user is None:  # owner-only: an API key never gets here
            raise Forbidden("API keys cannot manage billing")
        data = validated(self, request.data)
        session = services.checkout_session_create(
            user=actor.user, price_id=data["price_id"], organization=actor.organization
        )
        return envelope("Checkout session created", session)

    @extend_schema(
        operation_id="organizations_billing_portal",
        request=None,
        responses={
            200: OrgPortalEnvelope,
            400: OpenApiResponse(description="The organization has no billing account yet"),
            **ERRORS_502_503,
        },
    )
    def portal(self, request: Request, slug: str) -> Response:
        actor = self.actor()
        if actor.user is None:
            raise Forbidden("API keys cannot manage billing")
        session = services.portal_session_create(user=actor.user, organization=actor.organization)
        return envelope("Portal session created", session)


@extend_schema(tags=["billing"])
class StripeWebhookView(APIView):
    """Stripe's deliveries: signature checked, each event processed once (contract §5.3)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: list[Any] = []

    @extend_schema(
        operation_id="billing_webhook",
        request={"application/json": {"type": "object", "description": "A Stripe event"}},
        responses={
            200: WebhookAckOutput,
            400: OpenApiResponse(description="Bad payload or Stripe-Signature"),
            500: OpenApiResponse(description="Processing failed; Stripe retries"),
            503: ERRORS_502_503[503],
        },
    )
    def post(self, request: Request) -> Response:
        processed = webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
        message = "Webhook processed" if processed else "Duplicate event ignored"
        return Response({"success": True, "message": message})
