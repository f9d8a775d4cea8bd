"""Organization fixtures: acme (alice owner, bob member) and globex (charlie owner) come from
the shared conftest; `dave` is acme's admin; keys are real keys made by the service."""

from __future__ import annotations

import pytest

from organizations.access import OrgActor
from organizations.models import OrgRole
from organizations.services import api_key_create
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def dave(acme):
    user = UserFactory(email="dave@example.com", name="Dave Admin")
    MembershipFactory(organization=acme, user=user, role=OrgRole.ADMIN)
    return user


def make_key(org, role=OrgRole.MEMBER, **extra):
    actor = OrgActor(organization=org, role=OrgRole.OWNER)
    key, raw = api_key_create(actor=actor, name=f"{role} key", role=role, **extra)
    return key, raw


@pytest.fixture
def acme_key(acme):
    return make_key(acme)[1]


@pytest.fixture
def globex_key(globex):
    return make_key(globex, OrgRole.ADMIN)[1]
