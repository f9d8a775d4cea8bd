"""An organization's first teammate, in real browsers against real ASGI servers (issue 6): the
owner creates an org and invites a second person → the invitation email arrives → the invitee
follows the link, signs up (address prefilled) and lands in the org → the owner, watching the
members page, sees the new member appear live over the WebSocket → and transfers ownership.

pytest-django's `live_server` is WSGI (no /ws), so this uses `tests.integration.servers`: two
uvicorn processes on the test database and Redis — the owner on one, the invitee on the other,
so the `member_update` event also crosses processes through channels-redis — plus a django-q2
worker (`manage.py qcluster`) that runs the invitation email job. Both write email to a
directory (`EMAIL_URL=filemail://…`) that the test reads like a mailbox.

Needs REDIS_URL and a PostgreSQL DATABASE_URL, and /usr/bin/chromium, e.g.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/pytest tests/browser/test_organizations_flow.py
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, expect

from organizations.models import Membership, Organization, OrgRole
from tests.browser.conftest import artifact_path
from tests.factories import UserFactory
from tests.integration.servers import (
    BASE_DIR,
    NEEDS_POSTGRES_AND_REDIS,
    Server,
    database_url_for_servers,
    running_servers,
    stop,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    NEEDS_POSTGRES_AND_REDIS,
    pytest.mark.django_db(transaction=True),
]

OWNER_EMAIL, OWNER_NAME = "olivia@example.com", "Olivia Owner"
INVITEE_EMAIL, INVITEE_NAME = "peggy@example.com", "Peggy Newcomer"
PASSWORD = "Sparrow-Hawk-81"
MAIL_TIMEOUT = 60  # the worker's start-up included
LIVE_TIMEOUT = 20_000  # ms
ACCEPT_LINK = re.compile(r"https?://\S+/invitations/accept\?token=\S+")
# The header's org switcher appears once its context processor is in settings.TEMPLATES (the
# servers run the same settings module as this process).
SWITCHER_ON = (
    "organizations.context_processors.org_switcher"
    in (settings.TEMPLATES[0]["OPTIONS"]["context_processors"])
)


# --- The stack: two ASGI servers and a job worker sharing the test database and Redis ---------


@contextmanager
def job_worker(tmp: Path, env: dict[str, str]) -> Iterator[Server]:
    """`manage.py qcluster` on the test database: runs the invitation email job."""
    worker = Server("worker", 0, tmp / "worker.log")
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url_for_servers(),
        "PYTHONUNBUFFERED": "1",
        "Q_WORKERS": "1",
        "Q_LOG_LEVEL": "INFO",
        **env,
    }
    with worker.log.open("wb") as out:
        worker.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield worker
    finally:
        stop(worker)


@pytest.fixture
def stack(django_db_setup: None, tmp_path: Path) -> Iterator[dict[str, object]]:
    maildir = tmp_path / "mail"
    maildir.mkdir()
    env = {
        "EMAIL_URL": f"filemail:///{maildir}",  # django-environ drops one leading slash
        "CHANNEL_LAYER_PREFIX": f"keel-orgflow-{uuid.uuid4().hex[:12]}",
    }
    with (
        running_servers(tmp_path, **env) as (owner_server, invitee_server),
        job_worker(tmp_path, env) as worker,
    ):
        yield {
            "owner_server": owner_server,
            "invitee_server": invitee_server,
            "worker": worker,
            "maildir": maildir,
        }
        for proc in (owner_server, invitee_server, worker):
            print(f"----- {proc.name} -----\n{proc.output()[-6000:]}")


@contextmanager
def browser_page(browser: Browser, server: Server, name: str) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=f"http://127.0.0.1:{server.port}",
        color_scheme="light",
        locale="en-US",
        viewport={"width": 1280, "height": 800},
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        yield page
    except BaseException:
        page.screenshot(path=str(artifact_path(f"organizations-flow-{name}")), full_page=True)
        raise
    finally:
        context.close()


# --- The mailbox -------------------------------------------------------------------------------


def messages_in(maildir: Path) -> Iterator[email.message.EmailMessage]:
    """Every message the file backend wrote (one file per connection, separated by dashes)."""
    for path in sorted(maildir.glob("*.log")):
        for chunk in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                yield email.message_from_string(chunk, policy=email.policy.default)


def wait_for_invitation_link(maildir: Path, address: str, worker: Server) -> str:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for message in messages_in(maildir):
            if address in str(message["To"]):
                body = message.get_body(preferencelist=("plain",)).get_content()
                found = ACCEPT_LINK.search(body)
                if found:
                    return found.group(0)
        assert worker.proc is not None and worker.proc.poll() is None, worker.output()
        time.sleep(0.5)
    raise AssertionError(f"no invitation email to {address}; worker said:\n{worker.output()}")


def sign_in(page: Page, address: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=login]", address)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()


# --- The journey -------------------------------------------------------------------------------


def test_owner_invites_a_teammate_who_signs_up_appears_live_and_receives_ownership(
    browser: Browser, stack: dict[str, object]
) -> None:
    UserFactory(email=OWNER_EMAIL, name=OWNER_NAME, password=PASSWORD)
    maildir: Path = stack["maildir"]  # type: ignore[assignment]

    with (
        browser_page(browser, stack["owner_server"], "owner") as owner,  # type: ignore[arg-type]
        browser_page(browser, stack["invitee_server"], "invitee") as invitee,  # type: ignore[arg-type]
    ):
        # The owner signs in and creates an organization (from the switcher's link).
        sign_in(owner, OWNER_EMAIL)
        expect(owner.get_by_test_id("user-name")).to_have_text(OWNER_NAME)
        if SWITCHER_ON:
            owner.get_by_test_id("org-switcher-toggle").click()
            owner.get_by_test_id("org-new-link").click()
        else:
            owner.goto("/org/new")
        owner.fill("input[name=name]", "Initech")
        owner.fill("input[name=slug]", "initech")
        owner.get_by_test_id("org-create-submit").click()
        expect(owner).to_have_url(re.compile(r"/org/initech/$"))
        expect(owner.get_by_test_id("stat-role")).to_have_text("Owner")
        if SWITCHER_ON:
            expect(owner.get_by_test_id("org-switcher-current")).to_have_text("Initech")

        # … invites a second person …
        owner.get_by_test_id("nav-invitations").click()
        owner.fill("input[name=email]", INVITEE_EMAIL)
        owner.select_option("select[name=role]", "member")
        owner.get_by_test_id("invite-submit").click()
        expect(
            owner.locator(f'[data-testid="invitation-row"][data-email="{INVITEE_EMAIL}"]')
        ).to_be_visible()

        # … and watches the members page, live.
        owner.get_by_test_id("nav-members").click()
        expect(owner.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
        expect(owner.get_by_test_id("member-row")).to_have_count(1)
        owner.evaluate("window.keelTestNoReload = true")

        # The invitee receives the email and follows its link (on the other server).
        link = urlsplit(wait_for_invitation_link(maildir, INVITEE_EMAIL, stack["worker"]))  # type: ignore[arg-type]
        assert link.path == "/invitations/accept"
        invitee.goto(f"{link.path}?{link.query}")
        expect(invitee.get_by_test_id("invitation-org")).to_have_text("Initech")
        expect(invitee.get_by_test_id("invitation-inviter")).to_have_text(OWNER_NAME)
        expect(invitee.get_by_test_id("invitation-role")).to_have_text("Member")

        # Signs up with the address prefilled, comes back to the invitation, accepts.
        invitee.get_by_test_id("invitation-sign-up").click()
        expect(invitee.locator("input[name=email]")).to_have_value(INVITEE_EMAIL)
        invitee.fill("input[name=name]", INVITEE_NAME)
        invitee.fill("input[name=password1]", PASSWORD)
        invitee.get_by_test_id("signup-submit").click()
        expect(invitee).to_have_url(re.compile(r"/invitations/accept\?token="))
        invitee.get_by_test_id("invitation-accept").click()
        expect(invitee).to_have_url(re.compile(r"/org/initech/$"))
        expect(invitee.get_by_test_id("stat-role")).to_have_text("Member")
        if SWITCHER_ON:
            expect(invitee.get_by_test_id("org-switcher-current")).to_have_text("Initech")

        # The owner sees the new member appear without reloading.
        new_row = owner.locator(f'[data-testid="member-row"][data-email="{INVITEE_EMAIL}"]')
        expect(new_row).to_be_visible(timeout=LIVE_TIMEOUT)
        expect(owner.get_by_test_id("member-count")).to_have_text("2")
        assert owner.evaluate("window.keelTestNoReload") is True, "the page was reloaded"
        owner.screenshot(path=str(artifact_path("organizations-members-live")), full_page=True)

        # The owner transfers ownership to the newcomer.
        peggy = Membership.objects.get(organization__slug="initech", user__email=INVITEE_EMAIL)
        owner.get_by_test_id("nav-danger").click()
        owner.select_option("select[name=user_id]", str(peggy.user_id))
        owner.get_by_test_id("transfer-submit").click()  # confirmed by the dialog handler
        expect(owner).to_have_url(re.compile(r"/org/initech/members/$"))
        expect(owner.get_by_test_id("org-role")).to_have_text("You: admin")
        expect(new_row.get_by_test_id("member-role")).to_have_text("Owner")

    org = Organization.objects.get(slug="initech")
    roles = {m.user.email: m.role for m in Membership.objects.filter(organization=org)}
    assert roles == {OWNER_EMAIL: OrgRole.ADMIN, INVITEE_EMAIL: OrgRole.OWNER}
