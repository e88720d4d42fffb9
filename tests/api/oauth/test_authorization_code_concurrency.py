"""Two redemptions of one authorization code, or of one refresh token, at the same moment
against a real rosterd: exactly one gets tokens, the other an RFC 6749 error, never a 5xx
(on SQLite and on PostgreSQL, where the code's row is locked before it is checked)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.api.oauth.flow import App, Browser, consent, make_admin, pkce, register_app
from tests.conftest import LiveServer

pytestmark = pytest.mark.live

ROUNDS = 3


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[Browser]:
    slug = live_server.tenant().slug
    with httpx.Client(base_url=live_server.base_url, timeout=60) as http:
        person = Browser(http, slug, make_admin(live_server.runtime, slug))
        assert person.sign_in().status_code == 303
        yield person


def _burst(base_url: str, slug: str, forms: list[dict[str, str]]) -> list[httpx.Response]:
    async def fire() -> list[httpx.Response]:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
            return list(
                await asyncio.gather(
                    *(http.post(f"/tenants/{slug}/connect/token", data=f) for f in forms)
                )
            )

    return asyncio.run(fire())


def _one_wins(responses: list[httpx.Response]) -> dict[str, str]:
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: 1, 400: 1}), [(r.status_code, r.text) for r in responses]
    loser = next(r for r in responses if r.status_code == 400)
    assert loser.json()["error"] == "invalid_grant"
    winner: dict[str, str] = next(r for r in responses if r.status_code == 200).json()
    return winner


def test_one_code_redeemed_twice_at_once_issues_once(
    live_server: LiveServer, browser: Browser
) -> None:
    app: App = register_app(live_server.runtime, browser.slug)
    for _ in range(ROUNDS):
        verifier, challenge = pkce()
        code = consent(browser, app, challenge)["code"]
        form = {
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": code,
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
        }
        _one_wins(_burst(live_server.base_url, browser.slug, [form, form]))


def test_one_refresh_token_used_twice_at_once_rotates_once(
    live_server: LiveServer, browser: Browser
) -> None:
    app: App = register_app(live_server.runtime, browser.slug)
    for _ in range(ROUNDS):
        verifier, challenge = pkce()
        code = consent(browser, app, challenge)["code"]
        issued = browser.http.post(
            f"/tenants/{browser.slug}/connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": app.client_id,
                "code": code,
                "redirect_uri": app.redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert issued.status_code == 200, issued.text
        form = {
            "grant_type": "refresh_token",
            "client_id": app.client_id,
            "refresh_token": issued.json()["refresh_token"],
        }
        _one_wins(_burst(live_server.base_url, browser.slug, [form, form]))
