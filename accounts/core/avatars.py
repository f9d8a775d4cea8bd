"""The public URL of a user's picture (contract §3.1: `avatar_url`)."""

from __future__ import annotations

from accounts.models import User


def avatar_url(user: User) -> str | None:
    """`/api/v1/users/{id}/avatar?v=<hash>` (the hash changes with the picture)."""
    if not user.avatar:
        return None
    version = user.avatar.rsplit("/", 1)[-1].split(".")[0]
    return f"/api/v1/users/{user.pk}/avatar?v={version}"
