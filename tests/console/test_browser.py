"""The console in a real browser: Playwright drives Debian's chromium against `rosterd
serve` on 127.0.0.1 through what an admin does in a day, checks each page with axe-core
(no serious or critical violation) and leaves a 1280x800 screenshot of each page in
var/console-screenshots/ for reviewers.

Playwright's own browser download is not used: the browser is /usr/bin/chromium, which
`make test` installs with apt. Without it the test is skipped, except in CI (.ci/run sets
ROSTERD_TEST_REQUIRE_CHROMIUM), where it fails.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from rosterd.config import Settings
from rosterd.models import User
from rosterd.runtime import Runtime
from tests.browser import chromium
from tests.conftest import LiveServer, free_port, server_env, serving
from tests.console.conftest import PASSWORD, make_admin
from tests.receiver import receiving

pytestmark = pytest.mark.live

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "console-screenshots"
# How long the test's own requests to a live server wait, as the suite's live client does
# (tests.conftest.LiveServer): on a loaded 2-core machine, with Chromium running, one took
# over httpx's default 5 s in CI.
TIMEOUT = 30.0
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def webhook_server(settings: Settings, runtime: Runtime) -> Iterator[LiveServer]:
    """`rosterd serve` that may send webhooks to a receiver on 127.0.0.1, promptly."""
    port = free_port()
    env = {
        **server_env(settings, f"http://127.0.0.1:{port}"),
        "ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "ROSTERD_WEBHOOK_POLL_SECONDS": "0.1",
    }
    with serving(port, env) as base:
        yield LiveServer(base_url=base, settings=settings, runtime=runtime)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def look_at(page: Page, name: str, backend: str) -> None:
    """Check the page with axe-core and keep a screenshot of it."""
    violations = Axe().run(page).response["violations"]
    serious = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]])
        for v in violations
        if v["impact"] in SERIOUS
    ]
    assert serious == [], f"{name}: {serious}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{backend}.png")


def test_an_admins_day_in_the_console(page: Page, live_server: LiveServer, backend: str) -> None:
    base = live_server.base_url
    tenant = live_server.tenant()
    username = make_admin(live_server.runtime, tenant.slug)
    surname = f"Quixote{secrets.token_hex(3)}"
    user = tenant.user(firstName="Zebulon", lastName=surname, username=f"zq-{surname}")
    tenant.user(firstName="Another", lastName="Person")
    tenant.team(name="Platform", managerId=user["id"])
    group = tenant.group(name=f"Pilots {secrets.token_hex(3)}")
    client_id, client_secret = tenant.client_credentials(["user:read"])
    token_url = f"{base}/tenants/{tenant.slug}/connect/token"
    grant = {"grant_type": "client_credentials", "client_id": client_id}

    # Signed out, the console asks who you are.
    page.goto(f"{base}/admin/users")
    expect(page.get_by_role("heading", name="Sign in to rosterd")).to_be_visible()
    page.get_by_label("Tenant").fill(tenant.slug)
    page.get_by_label("Username").fill(username)
    look_at(page, "sign-in", backend)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Back where it was going: the users, found as you type a fragment of a name.
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_label("Search by name, username or email").press_sequentially(surname[2:9])
    found = page.get_by_role("link", name=f"Zebulon {surname}")
    expect(found).to_be_visible()
    expect(page.locator("#user-results tbody tr")).to_have_count(1)
    look_at(page, "users", backend)
    found.click()

    # The user: deactivate, add to a group.
    expect(page.get_by_role("heading", name=f"Zebulon {surname}")).to_be_visible()
    page.get_by_role("button", name="Deactivate", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Deactivated.")
    page.get_by_label("Add to group (name)").fill(group["name"])
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("button", name=f"Remove from {group['name']}")).to_be_visible()
    look_at(page, "user", backend)
    v2 = httpx.get(
        f"{base}/integration/v2/users/{user['id']}", headers=tenant.headers(), timeout=TIMEOUT
    )
    assert v2.json()["status"] == "inactive"

    # A SCIM token for Okta, shown once, that works against /scim/v2.
    page.get_by_role("link", name="SCIM & API access").click()
    page.get_by_label("Name").first.fill("okta")
    page.get_by_role("button", name="Generate SCIM token").click()
    token = page.locator("#scim-token").input_value()
    assert page.locator("#scim-url").input_value() == f"{base}/scim/v2"
    look_at(page, "access-new-scim-token", backend)
    scim = httpx.get(
        f"{base}/scim/v2/Users",
        params={"filter": f'userName eq "zq-{surname}"'},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert scim.status_code == 200, scim.text
    assert [u["id"] for u in scim.json()["Resources"]] == [user["id"]]

    # Revoke an OAuth client: its secret gets no more tokens.
    issued = httpx.post(token_url, data={**grant, "client_secret": client_secret}, timeout=TIMEOUT)
    assert issued.status_code == 200
    page.get_by_role("link", name="SCIM & API access").click()
    row = page.get_by_role("row").filter(has_text=client_id)
    row.get_by_role("button", name="Revoke test").click()
    expect(page.get_by_role("status")).to_have_text("OAuth client 'test' revoked.")
    look_at(page, "access", backend)
    refused = httpx.post(token_url, data={**grant, "client_secret": client_secret}, timeout=TIMEOUT)
    assert refused.status_code in (400, 401)

    # The audit log shows what this admin did, through the console.
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Actor").fill(f"admin:{username}")
    page.get_by_role("button", name="Filter").click()
    log = page.locator("main table")
    for action in ("oauth_client.revoked", "scim_token.created", "group.member_added",
                   "user.status_changed"):  # fmt: skip
        expect(log).to_contain_text(action)
    expect(log).to_contain_text("console")
    look_at(page, "audit", backend)

    # The group the user joined, from the top of the tree; roles; teams.
    page.get_by_role("link", name="Groups").click()
    look_at(page, "groups", backend)
    page.get_by_role("link", name=group["name"], exact=True).click()
    expect(page.get_by_role("link", name=f"Zebulon {surname}")).to_be_visible()
    look_at(page, "group", backend)
    page.get_by_role("link", name="Roles").click()
    look_at(page, "roles", backend)
    page.get_by_role("link", name="Teams").click()
    look_at(page, "teams", backend)
    page.get_by_role("link", name="Settings").click()
    look_at(page, "settings", backend)

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Last sign-in")).to_be_visible()
    look_at(page, "dashboard", backend)

    # Signed out, the session is gone: the console asks again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/sign-in"))


def sign_in(page: Page, base: str, tenant: str, username: str) -> None:
    page.goto(f"{base}/admin/sign-in")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_lifecycle_and_webhooks_in_the_console(
    page: Page, webhook_server: LiveServer, backend: str
) -> None:
    base = webhook_server.base_url
    tenant = webhook_server.tenant()
    username = make_admin(webhook_server.runtime, tenant.slug)
    idle = tenant.user(firstName="Ida", lastName="Idle", username=f"idle-{secrets.token_hex(3)}")
    with webhook_server.runtime.db.writer.begin() as session:
        session.execute(
            update(User)
            .where(User.tenant_id == tenant.id, User.id == uuid.UUID(idle["id"]))
            .values(created_at=datetime.now(UTC) - timedelta(days=120))
        )
    ends = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    leaving = tenant.user(firstName="Lea", lastName="Ving", expiresAt=ends)
    tenant.user(firstName="Stay", lastName="Ing")
    sign_in(page, base, tenant.slug, username)

    # Scheduled expiries, soonest first, each a link to its user.
    page.get_by_role("link", name="Lifecycle").click()
    expect(page.get_by_role("heading", name="Lifecycle", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Lea Ving")).to_have_attribute(
        "href", f"/admin/users/{leaving['id']}"
    )
    look_at(page, "lifecycle", backend)

    # Plan users idle 90 days: one of three active users, above the default guard (10%).
    page.get_by_label("Idle for (days)").fill("90")
    page.get_by_role("button", name="Plan sweep").click()
    expect(page.get_by_role("heading", name="Held by the tenant's guard")).to_be_visible()
    expect(page.get_by_role("link", name=idle["username"])).to_be_visible()
    look_at(page, "lifecycle-sweep", backend)
    page.get_by_label("I have reviewed the plan").check()
    page.get_by_role("button", name="Apply plan").click()
    expect(page.get_by_role("alert")).to_contain_text("guard holds this plan")
    page.get_by_label("I have reviewed the plan").check()
    page.get_by_label("Override the guard").check()
    page.get_by_role("button", name="Apply plan").click()
    expect(page.get_by_role("status")).to_have_text("Applied: 1 deactivated.")
    look_at(page, "lifecycle-sweep-applied", backend)
    v2 = httpx.get(
        f"{base}/integration/v2/users/{idle['id']}", headers=tenant.headers(), timeout=TIMEOUT
    )
    assert v2.json()["status"] == "inactive"

    with receiving() as receiver:
        # A webhook to the receiver: its signing secret shown once, with a Copy button.
        page.get_by_role("link", name="Webhooks").click()
        expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
        page.get_by_label("Receiver URL").fill(receiver.url)
        page.get_by_role("button", name="Create webhook").click()
        secret = page.locator("#webhook-secret").input_value()
        assert secret.startswith("whsec_")
        expect(page.get_by_role("button", name="Copy")).to_be_visible()
        look_at(page, "webhooks-new-secret", backend)

        # A test event, delivered and signed with that secret; the log says so.
        page.get_by_role("link", name="Open the webhook").click()
        page.get_by_role("button", name="Send test event").click()
        expect(page.get_by_role("status")).to_contain_text("Test event queued")
        # Every event goes to the webhook, the audit's "webhook.test_sent" too, in either
        # order: wait for the test event itself, verified with that secret.
        receiver.wait_for(lambda r: any(x.verified(secret)["type"] == "webhook.test" for x in r))
        row = page.get_by_role("row").filter(has_text="webhook.test ").first
        for _ in range(100):
            page.reload()
            if "succeeded" in (row.text_content() or ""):
                break
        expect(row).to_contain_text("succeeded")
        expect(row).to_contain_text("200")
        assert secret not in page.content()
        look_at(page, "webhook", backend)

        # Rotating asks first; the new secret is shown once.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Rotate secret").click()
        expect(page.get_by_role("heading", name="New signing secret — shown once")).to_be_visible()
        assert page.locator("#webhook-secret").input_value() not in ("", secret)

        page.get_by_role("link", name="Webhooks", exact=True).first.click()
        expect(page.get_by_role("link", name=receiver.url)).to_be_visible()
        assert "whsec_" not in page.content()
        look_at(page, "webhooks", backend)
