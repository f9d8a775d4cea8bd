"""The public URL of a user's picture (contract §3.1: `avatar_url`)."""

from __future__ import annotations

from accounts.models import User


def avatar_url(user: User) -> str | None:
    """`/api/v1/users/{id}/avatar?v=<hash>` (the hash changes with the picture)."""
    if not user.avatar:
        return None
    return avatar_url_for(user.pk, user.avatar)


def avatar_url_for(user_id: int, path: str) -> str:
    """The URL of the picture stored at `path` (`avatars/<id>/<hash>.png`)."""
    version = path.rsplit("/", 1)[-1].split(".")[0]
    return f"/api/v1/users/{user_id}/avatar?v={version}"
