"""Usage alerts (contract §6.4): after every fold and ingestion and in a sweep, each metric with a
limit is checked at 80, 90 and 100 %. Each alert exists once per scope, type, metric and period
(the unique constraints decide, also between concurrent checks); a new one sets
`limits_exceeded` when it is `exceeded`, pushes `usage_alert` to the user or to the org's owners
and admins, and is handed to the `USAGE_ALERT_LISTENERS` (notifications join there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from config import realtime
from config.errors import NotFound
from organizations.models import Membership, MembershipStatus, Organization, OrgRole
from usage import enforcement
from usage.models import METRICS, AlertType, UsageAlert, UsagePeriod
from usage.periods import Scope, month_of, period_get, plan_limits

THRESHOLDS = ((80, AlertType.WARNING_80), (90, AlertType.WARNING_90), (100, AlertType.EXCEEDED))
LABELS = {
    "api_call": "API calls",
    "storage": "storage",
    "compute": "compute",
    "file_upload": "file uploads",
}
NEXT_PLAN = {"free": "pro", "pro": "enterprise"}


def _message(alert: UsageAlert, plan: str) -> str:
    label = LABELS.get(alert.usage_type, alert.usage_type)
    if alert.alert_type != AlertType.EXCEEDED:
        return f"You have used {alert.percentage_used}% of your {label} limit"
    if plan in NEXT_PLAN:
        return (
            f"You have exceeded your {label} limit. Upgrade to {NEXT_PLAN[plan].title()} "
            "for higher limits."
        )
    return f"You have exceeded your {label} limit. Contact support to raise it."


def alert_payload(alert: UsageAlert, plan: str, org_slug: str | None) -> dict[str, Any]:
    """The `usage_alert` event's payload (contract §12; camelCased on the way out)."""
    payload: dict[str, Any] = {
        "alert_type": alert.alert_type,
        "usage_type": alert.usage_type,
        "current_usage": alert.current_usage,
        "limit": alert.usage_limit,
        "percentage_used": alert.percentage_used,
        "message": _message(alert, plan),
        "can_upgrade": plan in NEXT_PLAN,
        "current_plan": plan,
    }
    if plan in NEXT_PLAN:
        payload["suggested_plan"] = NEXT_PLAN[plan]
        payload["upgrade_url"] = f"/org/{org_slug}/billing" if org_slug else "/settings/billing"
    if org_slug:
        payload["org_slug"] = org_slug
    return payload


@cache
def _listeners() -> tuple[Callable[..., None], ...]:
    return tuple(import_string(path) for path in settings.USAGE_ALERT_LISTENERS)


def _org_slug(scope: Scope) -> str | None:
    if scope.organization_id is None:
        return None
    return (
        Organization.objects.filter(pk=scope.organization_id).values_list("slug", flat=True).first()
    )


def _announce(alert: UsageAlert, scope: Scope, plan: str) -> None:
    payload = alert_payload(alert, plan, _org_slug(scope))
    notification = {
        "title": "Usage limit exceeded"
        if alert.alert_type == AlertType.EXCEEDED
        else "Usage alert",
        "message": payload["message"],
        "type": "error" if alert.alert_type == AlertType.EXCEEDED else "warning",
        "data": {"category": "usage", "link": payload.get("upgrade_url")},
    }
    if scope.organization_id is not None:
        roles = (OrgRole.OWNER, OrgRole.ADMIN)
        realtime.publish_to_org(scope.organization_id, "usage_alert", payload, roles=roles)
        realtime.publish_to_org(scope.organization_id, "notification", notification, roles=roles)
    else:
        assert scope.user_id is not None
        realtime.publish_to_user(scope.user_id, "usage_alert", payload)
        realtime.publish_to_user(scope.user_id, "notification", notification)
    for listener in _listeners():
        transaction.on_commit(partial(listener, alert=alert), robust=True)


def limits_check(*, scope: Scope, moment: datetime | None = None) -> list[UsageAlert]:
    """Create the alerts the scope's period has reached and not had yet; returns the new ones."""
    moment = moment or timezone.now()
    created: list[UsageAlert] = []
    with transaction.atomic():
        period = period_get(scope, moment)
        plan, plan_limits_now = plan_limits(scope)
        limits = period.limits or plan_limits_now
        over: set[str] = set()
        for usage_type, key in METRICS.items():
            limit = int(limits.get(key, 0) or 0)
            if limit <= 0:
                continue
            total = int(getattr(period, key))
            percentage = total * 100 // limit
            if total >= limit:
                over.add(key)
            for threshold, alert_type in THRESHOLDS:
                if percentage < threshold:
                    break
                try:
                    with transaction.atomic():
                        alert = UsageAlert.objects.create(
                            alert_type=alert_type,
                            usage_type=usage_type,
                            current_usage=total,
                            usage_limit=limit,
                            percentage_used=percentage,
                            period_start=period.period_start,
                            period_end=period.period_end,
                            **scope.fields(),
                        )
                except IntegrityError:
                    continue  # this alert of this period exists: sent once
                created.append(alert)
                _announce(alert, scope, plan)
        if any(a.alert_type == AlertType.EXCEEDED for a in created):
            UsagePeriod.objects.filter(pk=period.pk).update(limits_exceeded=True)
    if period.period_start == month_of(timezone.now())[0]:
        enforcement.mark(scope, over, org_slug=_org_slug(scope))
    return created


def administered_org_ids(user_id: int) -> Any:
    """The organizations the user owns or administers (a subquery)."""
    return Membership.objects.filter(
        user_id=user_id,
        status=MembershipStatus.ACTIVE,
        role__in=(OrgRole.OWNER, OrgRole.ADMIN),
        organization__deleted_at__isnull=True,
    ).values("organization_id")


def visible_alerts(user_id: int) -> QuerySet[UsageAlert]:
    """The user's own alerts and those of the organizations they administer."""
    return UsageAlert.objects.filter(
        Q(user_id=user_id, organization__isnull=True)
        | Q(organization_id__in=administered_org_ids(user_id))
    )


def alert_acknowledge(*, alert_id: int, user_id: int) -> UsageAlert:
    """`POST /usage/alerts/{id}/acknowledge`: the user's own alerts and those of the orgs they
    administer; any other id is 404 (contract §6.2)."""
    with transaction.atomic():
        alert = visible_alerts(user_id).select_for_update().filter(pk=alert_id).first()
        if alert is None:
            raise NotFound("Alert not found")
        if alert.acknowledged_at is None:
            alert.acknowledged_at = timezone.now()
            alert.acknowledged_by_id = user_id
            alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert
