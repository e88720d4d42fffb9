"""The authorization code flow end to end, as an app written by others runs it: Authlib's
httpx ``OAuth2Client`` (PKCE S256, a public client) against a real ``rosterd serve`` on
127.0.0.1, with a person signing in and consenting through the real pages in Debian's
Chromium (Playwright), then the app calling /integration/v2/users with the token and
refreshing it.

The app's redirect URI is answered inside the browser (Playwright's routing), as the app's
own page would be: what it receives is the URL the browser was sent to.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.api.oauth.flow import PASSWORD, make_admin, register_app
from tests.browser import chromium
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

REDIRECT_URI = "https://roster-sync.example/oauth/callback"
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def _accessible(page: Page) -> None:
    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["help"]) for v in violations if v["impact"] in SERIOUS]
    assert serious == [], serious


def test_an_app_signs_an_admin_in_and_acts_for_them(page: Page, live_server: LiveServer) -> None:
    base = live_server.base_url
    tenant = live_server.tenant()
    tenant.user(firstName="Ada", lastName="Lovelace")
    username = make_admin(live_server.runtime, tenant.slug)
    app = register_app(
        live_server.runtime, tenant.slug, redirect_uris=[REDIRECT_URI], name="Roster Sync"
    )
    issuer = f"{base}/tenants/{tenant.slug}"
    metadata = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    assert "authorization_code" in metadata["grant_types_supported"]
    assert "S256" in metadata["code_challenge_methods_supported"]

    with OAuth2Client(
        client_id=app.client_id,
        redirect_uri=REDIRECT_URI,
        scope="user:read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        timeout=60,
    ) as client:
        verifier = generate_token(64)
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier
        )

        # The app's page at its redirect URI.
        page.route(
            f"{REDIRECT_URI}*",
            lambda route: route.fulfill(status=200, content_type="text/html", body="<p>ok</p>"),
        )
        page.goto(url)
        # Not signed in: the console's sign-in, already naming the tenant the app asks for.
        expect(page.get_by_role("heading", name="Sign in to rosterd")).to_be_visible()
        expect(page.get_by_label("Tenant")).to_have_value(tenant.slug)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        # The consent page names the app and, in words, what it may do.
        expect(
            page.get_by_role("heading", name="Allow Roster Sync to act for you?")
        ).to_be_visible()
        expect(page.get_by_text("See the users of the directory")).to_be_visible()
        _accessible(page)
        with page.expect_request(lambda r: r.url.startswith(REDIRECT_URI)) as sent:
            page.get_by_role("button", name="Allow").click()
        callback = sent.value.url

        # Authlib checks the state and exchanges the code with the PKCE verifier.
        token = client.fetch_token(
            metadata["token_endpoint"],
            authorization_response=callback,
            state=state,
            code_verifier=verifier,
        )
        assert token["scope"] == "user:read" and token["refresh_token"]
        users = client.get(f"{base}/integration/v2/users")
        assert users.status_code == 200, users.text
        assert any(u["lastName"] == "Lovelace" for u in users.json()["items"])

        # Refreshing gives new tokens (rotation), which work as well.
        renewed = client.refresh_token(metadata["token_endpoint"])
        assert renewed["access_token"] != token["access_token"]
        assert renewed["refresh_token"] != token["refresh_token"]
        assert client.get(f"{base}/integration/v2/users").status_code == 200

        # The app forgets the grant (RFC 7009): the refresh token no longer works.
        revoked = client.revoke_token(
            metadata["revocation_endpoint"], renewed["refresh_token"], "refresh_token"
        )
        assert revoked.status_code == 200, revoked.text
        again = client.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": renewed["refresh_token"],
                "client_id": app.client_id,
            },
        )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
