"""How other domains take part in an account's lifecycle, without accounts importing them.

A participant is a class named in `settings.ACCOUNT_LIFECYCLE_PARTICIPANTS`, created once; it
subclasses `AccountParticipant` and overrides what concerns it:

- `export(user)`: sections of the GDPR export's `user_data.json` (contract §3.6), with
  `export_readme` describing them in `README.txt`. Their format is documented in
  `accounts/schemas/user_data.schema.json` (the published format of the whole archive);
- `deletion_blockers(user)`: why the account cannot be scheduled for deletion, nor purged, now
  (409 on `POST /users/me/delete`; the purge leaves the account for the next run);
- `purge_plan(user)`: what the purge will do, in lines for `purge_deleted_users --dry-run`;
- `purge(user)`: the domain's part of the purge (contract §3.8), inside its transaction, before
  the user row is deleted; returns a `PurgeStep`: audit metadata for the `account_purge` entry
  and, optionally, what to do once the row is gone (still inside the transaction);
- `staff_stats()`: numbers of `GET /admin/stats` (contract §11).

Organizations joins today (memberships, org handover, organization count); billing, usage,
notifications and files join by adding their participant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class PurgeStep:
    metadata: dict[str, Any] = field(default_factory=dict)
    after_delete: Callable[[], None] | None = None


class AccountParticipant:
    """No-op defaults: a participant overrides only what it takes part in."""

    export_readme: tuple[tuple[str, str], ...] = ()

    def export(self, user: User) -> dict[str, Any]:
        return {}

    def deletion_blockers(self, user: User) -> list[str]:
        return []

    def purge_plan(self, user: User) -> list[str]:
        return []

    def purge(self, user: User) -> PurgeStep:
        return PurgeStep()

    def staff_stats(self) -> dict[str, int]:
        return {}


@cache
def participants() -> tuple[AccountParticipant, ...]:
    return tuple(import_string(path)() for path in settings.ACCOUNT_LIFECYCLE_PARTICIPANTS)


def export_sections(user: User) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for participant in participants():
        sections.update(participant.export(user))
    return sections


def export_readme() -> list[tuple[str, str]]:
    return [line for participant in participants() for line in participant.export_readme]


def deletion_blockers(user: User) -> list[str]:
    return [reason for p in participants() for reason in p.deletion_blockers(user)]


def purge_plan(user: User) -> list[str]:
    return [line for participant in participants() for line in participant.purge_plan(user)]


def purge(user: User) -> list[PurgeStep]:
    return [participant.purge(user) for participant in participants()]


def staff_stats() -> dict[str, int]:
    numbers: dict[str, int] = {}
    for participant in participants():
        numbers.update(participant.staff_stats())
    return numbers
