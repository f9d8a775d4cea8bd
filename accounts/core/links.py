"""The tokens of the email links (verification, password reset): 32 random bytes, stored only
as their hash, issued by the email jobs themselves so that no plaintext token waits in the queue
(contract §13.1)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from security.crypto import new_token, token_hash


def email_verification_token_issue(*, user: User) -> str | None:
    """A new verification token for the user's current address (called by the email job), or
    None if the address changed meanwhile (the link would go to the wrong place)."""
    token = new_token(32)
    issued = User.objects.filter(pk=user.pk, email=user.email, email_verified=False).update(
        email_verification_token_hash=token_hash(token),
        email_verification_expires_at=timezone.now()
        + timedelta(hours=settings.EMAIL_VERIFICATION_TOKEN_HOURS),
    )
    return token if issued else None


def password_reset_token_issue(*, user: User) -> str:
    token = new_token(32)
    user.password_reset_token_hash = token_hash(token)
    user.password_reset_expires_at = timezone.now() + timedelta(
        hours=settings.PASSWORD_RESET_TOKEN_HOURS
    )
    user.save(update_fields=["password_reset_token_hash", "password_reset_expires_at"])
    return token
