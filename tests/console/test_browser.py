"""The console in a real browser: Playwright drives Debian's chromium against `rosterd
serve` on 127.0.0.1 through what an admin does in a day, checks each page with axe-core
(no serious or critical violation) and leaves a 1280x800 screenshot of each page in
var/console-screenshots/ for reviewers.

Playwright's own browser download is not used: the browser is /usr/bin/chromium, which
`make test` installs with apt. Without it the test is skipped, except in CI (.ci/run sets
ROSTERD_TEST_REQUIRE_CHROMIUM), where it fails.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import LiveServer
from tests.console.conftest import PASSWORD, make_admin

pytestmark = pytest.mark.live

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "console-screenshots"
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's tests only: while Playwright's sync API is open it keeps an
    event loop running in this thread, and any later test calling asyncio.run would fail."""
    if not CHROMIUM.exists():
        if os.environ.get("ROSTERD_TEST_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed: `make test` installs it with apt")
        pytest.skip("chromium is not installed (`make test` installs it)")
    with sync_playwright() as playwright:
        # --no-sandbox: CI and the dev machines run the tests as root.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


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
    v2 = httpx.get(f"{base}/integration/v2/users/{user['id']}", headers=tenant.headers())
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
    )
    assert scim.status_code == 200, scim.text
    assert [u["id"] for u in scim.json()["Resources"]] == [user["id"]]

    # Revoke an OAuth client: its secret gets no more tokens.
    assert httpx.post(token_url, data={**grant, "client_secret": client_secret}).status_code == 200
    page.get_by_role("link", name="SCIM & API access").click()
    row = page.get_by_role("row").filter(has_text=client_id)
    row.get_by_role("button", name="Revoke test").click()
    expect(page.get_by_role("status")).to_have_text("OAuth client 'test' revoked.")
    look_at(page, "access", backend)
    refused = httpx.post(token_url, data={**grant, "client_secret": client_secret})
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
