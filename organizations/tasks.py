"""Jobs of the organizations app (contract §14)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from config.emails import email_send
from config.jobs import periodic, task
from organizations.models import Invitation


@task(retries=5)
def send_invitation_email(*, invitation_id: int) -> None:
    """`organization_invitation`: a fresh accept link to {SITE_URL}/invitations/accept?token=…"""
    from organizations.services import invitation_token_issue

    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(pk=invitation_id, organization__deleted_at__isnull=True)
        .first()
    )
    if invitation is None or invitation.state != "pending":
        return
    token = invitation_token_issue(invitation=invitation)
    inviter = invitation.invited_by
    email_send(
        to=invitation.email,
        template="organization_invitation",
        context={
            "organization": invitation.organization,
            "inviter_name": (inviter.name or inviter.email) if inviter else "",
            "role": invitation.role,
            "accept_url": f"{settings.SITE_URL}/invitations/accept?{urlencode({'token': token})}",
            "expires_at": invitation.expires_at,
        },
    )


@periodic("cleanup_expired_invitations", hourly=True)
def cleanup_expired_invitations() -> int:
    """Delete unanswered invitations that expired more than a day ago."""
    deleted, _ = Invitation.objects.filter(
        accepted_at__isnull=True,
        declined_at__isnull=True,
        expires_at__lt=timezone.now() - timedelta(days=1),
    ).delete()
    return deleted
