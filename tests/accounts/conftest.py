"""Fixtures shared by the accounts tests: OAuth apps and a fake GitHub, throwaway storages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from allauth.socialaccount.models import SocialApp

GITHUB_USER = {"id": 4242, "login": "octocat", "name": "Octo Cat", "email": None}


@pytest.fixture
def oauth_apps(db: None) -> None:
    SocialApp.objects.create(provider="github", name="GitHub", client_id="gh-id", secret="gh-s")
    SocialApp.objects.create(provider="google", name="Google", client_id="g-id", secret="g-s")


@pytest.fixture
def github(oauth_apps: None) -> Iterator[Callable[..., None]]:
    """GitHub's token, user and emails endpoints, answered offline (`responses`)."""

    def answer(user: dict[str, Any] = GITHUB_USER, emails: list[dict] | None = None) -> None:
        if emails is None:
            emails = [{"email": "octo@example.com", "primary": True, "verified": True}]
        rsps.add(
            responses.POST,
            "https://github.com/login/oauth/access_token",
            json={"access_token": "gho_test", "token_type": "bearer", "scope": "read:user"},
        )
        rsps.add(responses.GET, "https://api.github.com/user", json=user)
        rsps.add(responses.GET, "https://api.github.com/user/emails", json=emails)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield answer


def _storage(settings: Any, name: str, location: Path) -> Path:
    settings.STORAGES = {
        **settings.STORAGES,
        name: {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@pytest.fixture
def media_storage(settings: Any, tmp_path: Path) -> Path:
    """Avatars go to a throwaway directory."""
    return _storage(settings, "default", tmp_path / "media")


@pytest.fixture
def private_storage(settings: Any, tmp_path: Path) -> Path:
    """Exports go to a throwaway private directory."""
    return _storage(settings, "private", tmp_path / "private")
