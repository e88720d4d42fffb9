"""Every 401 names the credential its surface takes, whatever wrong kind was sent.

One table: each kind of credential a caller may hold (or none, or junk) against each
surface. The answer is a 401 in the surface's format whose message names what the surface
needs, and what was sent instead and where that works; surfaces that send WWW-Authenticate
send it.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rosterd.auth.tokens import API_V1_AUDIENCE
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.api.v1.support import make_admin
from tests.factories import TenantHandle, make_tenant


@dataclasses.dataclass(frozen=True)
class Credential:
    name: str
    header: str | None  # the Authorization header, or None
    noun: str | None  # what a refusal calls it, when it is a kind rosterd issues
    kind: str  # what it is: the surface that takes it answers differently


@dataclasses.dataclass(frozen=True)
class Surface:
    name: str
    method: str
    path: str  # {slug}: the tenant's
    needs: tuple[str, ...]  # phrases the message names the needed credential by
    takes: str  # the kind of Credential it takes
    message: Callable[[httpx.Response], str]
    challenge: str | None  # the WWW-Authenticate scheme it sends, if any


def _error_message(r: httpx.Response) -> str:
    """v2, /admin/api and /api/v1 all carry it in error.message."""
    return str(r.json()["error"]["message"])


def _scim(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/scim+json")
    return str(r.json()["detail"])


def _admin_users(r: httpx.Response) -> str:
    assert r.json()["status"] == 401
    return str(r.json()["message"])


def _identities(r: httpx.Response) -> str:
    assert r.json()["ok"] is False
    return str(r.json()["error"]["message"])


def _oauth(r: httpx.Response) -> str:
    assert r.json()["error"] == "invalid_client"
    return str(r.json()["error_description"])


SURFACES = [
    Surface(
        "v2",
        "GET",
        "/integration/v2/users",
        ("OAuth access token",),
        "oauth",
        _error_message,
        "bearer",
    ),
    Surface("scim", "GET", "/scim/v2/Users", ("SCIM token",), "scim", _scim, "bearer"),
    Surface(
        "v1",
        "GET",
        "/api/v1/users",
        ("POST /api/v1/authentication/login",),
        "v1",
        _error_message,
        "bearer",
    ),
    Surface(
        "admin-users",
        "GET",
        "/v1/seadminusers",
        ("OAuth access token", "x-api-key"),
        "oauth",
        _admin_users,
        None,
    ),
    Surface(
        "identities", "GET", "/user_identities/list", ("API key",), "api-key", _identities, None
    ),
    Surface(
        "admin-api",
        "GET",
        "/admin/api/scim-tokens",
        ("OAuth access token", "admin scope"),
        "oauth",
        _error_message,
        "bearer",
    ),
    Surface(
        "token-endpoint",
        "POST",
        "/tenants/{slug}/connect/token",
        ("client's id and secret",),
        "basic",
        _oauth,
        "basic",
    ),
]
KINDS = [
    "none",
    "garbage",
    "oauth",
    "v1",
    "scim",
    "api-key",
    "client-secret",
    "expired-oauth",
    "expired-v1",
    "basic",
]


@dataclasses.dataclass
class Wallet:
    """One tenant, and a credential of every kind for it."""

    tenant: TenantHandle
    credentials: dict[str, Credential]
    api_key: str


@pytest.fixture(scope="module")
def wallet(runtime: Runtime, http: TestClient) -> Wallet:
    tenant = make_tenant(runtime, http)
    admin = make_admin(tenant)
    with runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        api_key = bearer_secrets.create(
            session,
            api_keys.KIND,
            row,
            name="wallet",
            hmac_key=runtime.hmac_key,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        ).secret
    client_id, secret = tenant.client_credentials(["admin"])

    def expired(audience: str | None) -> str:
        kwargs: dict[str, Any] = {"audience": audience} if audience else {}
        return runtime.signer.issue(
            issuer="http://testserver",
            tenant_id=tenant.id,
            subject=str(admin.id),
            scopes=["admin"],
            ttl=-30,
            extra={"epoch": 0},
            **kwargs,
        )

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    credentials = [
        Credential("none", None, None, "none"),
        Credential("garbage", "Bearer not-a-credential-at-all", None, "garbage"),
        Credential("oauth", f"Bearer {tenant.token()}", "OAuth access token", "oauth"),
        Credential("v1", f"Bearer {admin.login(http)}", "/api/v1 login token", "v1"),
        Credential("scim", f"Bearer {tenant.scim_token()}", "SCIM token", "scim"),
        Credential("api-key", f"Bearer {api_key}", "API key", "api-key"),
        Credential("client-secret", f"Bearer {secret}", "OAuth client secret", "client-secret"),
        Credential("expired-oauth", f"Bearer {expired(None)}", "OAuth access token", "oauth"),
        Credential("expired-v1", f"Bearer {expired(API_V1_AUDIENCE)}", "/api/v1 login token", "v1"),
        Credential("basic", f"Basic {basic}", "HTTP Basic credentials", "basic"),
    ]
    return Wallet(tenant, {c.name: c for c in credentials}, api_key)


def _send(http: TestClient, wallet: Wallet, surface: Surface, headers: dict[str, str]) -> Any:
    path = surface.path.format(slug=wallet.tenant.slug)
    if surface.method == "POST":
        return http.post(path, data={"grant_type": "client_credentials"}, headers=headers)
    return http.get(path, headers=headers)


def _cases() -> list[Any]:
    cases = []
    for surface in SURFACES:
        for kind in KINDS:
            works = kind == surface.takes and surface.name != "admin-users"
            if not works:
                cases.append(pytest.param(surface, kind, id=f"{surface.name}-{kind}"))
    return cases


@pytest.mark.parametrize(("surface", "kind"), _cases())
def test_a_wrong_credential_is_401_naming_the_one_needed(
    http: TestClient, wallet: Wallet, surface: Surface, kind: str
) -> None:
    credential = wallet.credentials[kind]
    headers = {"Authorization": credential.header} if credential.header else {}
    r = _send(http, wallet, surface, headers)
    assert r.status_code == 401, r.text
    message = surface.message(r)
    for phrase in surface.needs:
        assert phrase in message, message
    if credential.kind == "none":
        assert "no credential was sent" in message, message
    elif credential.kind == "garbage":
        assert "did not issue" in message, message
    elif kind.startswith("expired"):
        assert "expired" in message, message
    elif credential.kind != surface.takes:
        # What was sent, and where it works instead.
        assert f"{credential.noun} (which work" in message, message
    if surface.challenge:
        assert r.headers["www-authenticate"].lower().startswith(surface.challenge)
    assert "Traceback" not in r.text


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("none", "api-key")])
def test_admin_users_names_the_api_key_for_a_wrong_x_api_key(
    http: TestClient, wallet: Wallet, kind: str
) -> None:
    credential = wallet.credentials[kind]
    sent = (credential.header or "").split(" ", 1)[1]
    headers = {"Authorization": f"Bearer {wallet.tenant.token()}", "x-api-key": sent}
    r = http.get("/v1/seadminusers", headers=headers)
    assert r.status_code == 401, r.text
    message = _admin_users(r)
    assert "API key" in message and "x-api-key" in message, message
    if credential.noun and kind != "basic":
        assert credential.noun in message, message
    # With the API key in its place, the same token passes.
    ok = http.get("/v1/seadminusers", headers={**headers, "x-api-key": wallet.api_key})
    assert ok.status_code == 200, ok.text
