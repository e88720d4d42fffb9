"""The authorization code flow as a test drives it: an app registered in a tenant, an admin
who signs in and consents through the real pages (with an HTTP client of its own, so its
own cookies), and PKCE values made the way RFC 7636 §4 says."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services import clients as clients_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor

PASSWORD = "authorize password 1"
REDIRECT_URI = "https://app.example/callback"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ACTION = re.compile(r'<form method="post" action="([^"]*/authorize[^"]*)"')


def pkce() -> tuple[str, str]:
    """A code_verifier and its S256 code_challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _actor(tenant_id: Any) -> Actor:
    return Actor(tenant_id=tenant_id, actor="test", surface="test")


@dataclass(frozen=True)
class App:
    client_id: str
    client_secret: str | None
    redirect_uri: str


def register_app(
    runtime: Runtime,
    slug: str,
    *,
    public: bool = True,
    scopes: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    name: str = "Roster Sync",
) -> App:
    uris = redirect_uris or [REDIRECT_URI]
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
        issued = clients_service.create_client(
            session,
            tenant,
            name=name,
            scopes=scopes or list(ALL_SCOPES),
            hmac_key=runtime.hmac_key,
            actor=_actor(tenant.id),
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=uris,
            public=public,
        )
        return App(issued.client.client_id, issued.client_secret, uris[0])


def make_admin(runtime: Runtime, slug: str, scopes: list[str] | None = None) -> str:
    """A new admin of tenant ``slug`` with PASSWORD (holding ``scopes``, None: all)."""
    username = f"oauth-admin-{secrets.token_hex(4)}"
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
        admins_service.create_admin(
            session,
            tenant,
            username=username,
            password=PASSWORD,
            actor=_actor(tenant.id),
            scopes=scopes,
        )
    return username


@dataclass
class Browser:
    """A person's browser: an HTTP client with its own cookies, never following redirects."""

    http: httpx.Client
    slug: str
    username: str
    last_page: str = field(default="", repr=False)

    def sign_in(self, next_page: str = "/admin/") -> httpx.Response:
        form = self.http.get("/admin/sign-in", params={"next": next_page})
        found = _CSRF.search(form.text)
        assert found, form.text
        return self.http.post(
            "/admin/sign-in",
            data={
                "tenant": self.slug,
                "username": self.username,
                "password": PASSWORD,
                "csrf_token": found.group(1),
                "next": next_page,
            },
            follow_redirects=False,
        )

    def authorize(self, params: dict[str, str], slug: str | None = None) -> httpx.Response:
        url = f"/tenants/{slug or self.slug}/authorize?{urlencode(params)}"
        r = self.http.get(url, follow_redirects=False)
        self.last_page = r.text
        return r

    def answer(self, decision: str = "allow") -> httpx.Response:
        """Post the consent form last shown."""
        csrf, action = _CSRF.search(self.last_page), _ACTION.search(self.last_page)
        assert csrf and action, self.last_page
        return self.http.post(
            action.group(1).replace("&amp;", "&"),
            data={"csrf_token": csrf.group(1), "decision": decision},
            follow_redirects=False,
        )


def request_params(
    app: App, challenge: str, *, scope: str = "user:read", state: str = "st-123", **extra: str
) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


def redirected_to(r: httpx.Response) -> tuple[str, dict[str, str]]:
    """Where a redirect goes (without its query) and its query parameters."""
    assert r.status_code in (302, 303), (r.status_code, r.text)
    parts = urlsplit(r.headers["location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", query


def consent(browser: Browser, app: App, challenge: str, **params: str) -> dict[str, str]:
    """Ask, allow, and return the query the app's redirect URI receives."""
    r = browser.authorize(request_params(app, challenge, **params))
    assert r.status_code == 200, r.text
    target, query = redirected_to(browser.answer("allow"))
    assert target == app.redirect_uri
    return query


def token_request(http: httpx.Client, slug: str, app: App, data: dict[str, str]) -> httpx.Response:
    """A token request as the app makes it: Basic for a confidential app, else its id."""
    if app.client_secret is None:
        return http.post(
            f"/tenants/{slug}/connect/token", data={"client_id": app.client_id, **data}
        )
    return http.post(
        f"/tenants/{slug}/connect/token",
        data=data,
        auth=(app.client_id, app.client_secret),
    )


def redeem(http: httpx.Client, slug: str, app: App, code: str, verifier: str) -> httpx.Response:
    return token_request(
        http,
        slug,
        app,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect_uri,
            "code_verifier": verifier,
        },
    )


def refresh(http: httpx.Client, slug: str, app: App, token: str) -> httpx.Response:
    return token_request(http, slug, app, {"grant_type": "refresh_token", "refresh_token": token})
