"""Billing's request and response shapes (contract §5.1, §4.1)."""

from __future__ import annotations

from rest_framework import serializers

from config.serializers import envelope_of
from organizations.models import Plan

STATUSES = [
    "active",
    "trialing",
    "past_due",
    "canceled",
    "unpaid",
    "incomplete",
    "incomplete_expired",
    "paused",
]


class CheckoutInput(serializers.Serializer):
    price_id = serializers.CharField(max_length=255)


class BillingConfigOutput(serializers.Serializer):
    publishable_key = serializers.CharField(allow_blank=True)
    enabled = serializers.BooleanField()


class PlanOutput(serializers.Serializer):
    id = serializers.CharField()
    price_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    amount = serializers.IntegerField(help_text="In cents")
    currency = serializers.CharField()
    interval = serializers.ChoiceField(choices=["day", "week", "month", "year"])
    features = serializers.ListField(child=serializers.CharField())
    plan = serializers.ChoiceField(choices=["pro", "enterprise"])


class CheckoutOutput(serializers.Serializer):
    session_id = serializers.CharField()
    url = serializers.URLField()


class PortalOutput(serializers.Serializer):
    url = serializers.URLField()


class SubscriptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField(allow_null=True)
    organization_id = serializers.IntegerField(required=False, allow_null=True)
    stripe_subscription_id = serializers.CharField()
    stripe_price_id = serializers.CharField(allow_null=True)
    plan = serializers.ChoiceField(choices=Plan.choices)
    status = serializers.ChoiceField(choices=STATUSES)
    current_period_start = serializers.DateTimeField(allow_null=True)
    current_period_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()
    canceled_at = serializers.DateTimeField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)


class OrgBillingOutput(serializers.Serializer):
    plan = serializers.ChoiceField(choices=Plan.choices)
    has_subscription = serializers.BooleanField()
    subscription = SubscriptionOutput(required=False, allow_null=True)
    seat_limit = serializers.IntegerField(help_text="0 = unlimited")
    seat_count = serializers.IntegerField(help_text="Active members")
    stripe_customer_id = serializers.CharField(required=False, allow_null=True)


class WebhookAckOutput(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


OrgBillingEnvelope = envelope_of(OrgBillingOutput, "OrgBillingEnvelope")
OrgCheckoutEnvelope = envelope_of(CheckoutOutput, "OrgCheckoutEnvelope")
OrgPortalEnvelope = envelope_of(PortalOutput, "OrgPortalEnvelope")
