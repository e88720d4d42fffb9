"""SCIM & API access: secrets shown once on creation, never after; revoke and rotate."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.console.conftest import Console
from tests.factories import TenantHandle


def _shown(html: str, field: str) -> str:
    found = re.search(rf'id="{field}" value="([^"]+)"', html)
    assert found, f"no {field} on the page"
    return found.group(1)


def test_a_scim_token_is_shown_once_with_the_idp_settings_and_works(
    console: Console, http: TestClient
) -> None:
    r = console.post("/admin/access/scim-tokens", {"name": "okta"})
    assert r.status_code == 201
    token = _shown(r.text, "scim-token")
    assert token.startswith("rscim_")
    base = "http://testserver/scim/v2"
    assert _shown(r.text, "scim-url") == base
    assert "SCIM connector base URL" in r.text  # Okta
    assert "Tenant URL" in r.text  # Entra ID
    later = console.get("/admin/access")
    assert token not in later.text
    assert "okta" in later.text
    users = http.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert users.status_code == 200, users.text


def test_revoking_a_scim_token_stops_it(console: Console, http: TestClient) -> None:
    token = _shown(console.post("/admin/access/scim-tokens", {"name": "entra"}).text, "scim-token")
    page = console.get("/admin/access").text
    revoke = re.search(r'action="(/admin/access/scim-tokens/[^"]+/revoke)"', page)
    assert revoke
    assert console.post(revoke.group(1)).status_code == 303
    r = http.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_an_oauth_client_is_created_rotated_and_revoked(console: Console, http: TestClient) -> None:
    r = console.post("/admin/access/clients", {"name": "hr sync", "scope": ["user:read"]})
    assert r.status_code == 201
    client_id, secret = _shown(r.text, "client-id"), _shown(r.text, "client-secret")
    token_url = f"/tenants/{console.tenant.slug}/connect/token"
    grant = {"grant_type": "client_credentials", "client_id": client_id}
    assert http.post(token_url, data={**grant, "client_secret": secret}).status_code == 200
    page = console.get("/admin/access")
    assert secret not in page.text
    assert client_id in page.text
    rotated = console.post(f"/admin/access/clients/{client_id}/rotate")
    assert rotated.status_code == 200
    new_secret = _shown(rotated.text, "client-secret")
    assert new_secret != secret
    assert http.post(token_url, data={**grant, "client_secret": new_secret}).status_code == 200
    assert console.post(f"/admin/access/clients/{client_id}/revoke").status_code == 303
    refused = http.post(token_url, data={**grant, "client_secret": new_secret})
    assert refused.status_code in (400, 401)
    assert "revoked" in console.get("/admin/access").text


def test_a_client_needs_a_scope(console: Console) -> None:
    r = console.post("/admin/access/clients", {"name": "nothing"})
    assert r.status_code == 400
    assert "scope" in r.text


def test_an_api_key_is_shown_once(console: Console, http: TestClient) -> None:
    r = console.post("/admin/access/api-keys", {"name": "identities"})
    assert r.status_code == 201
    key = _shown(r.text, "api-key")
    assert key not in console.get("/admin/access").text
    listed = http.post("/user_identities/list", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200, listed.text


def test_another_tenants_client_is_not_found(
    console: Console, other_tenant: TenantHandle, http: TestClient
) -> None:
    elsewhere, secret = other_tenant.client_credentials(["user:read"])
    assert console.post(f"/admin/access/clients/{elsewhere}/revoke").status_code == 404
    token_url = f"/tenants/{other_tenant.slug}/connect/token"
    r = http.post(
        token_url,
        data={"grant_type": "client_credentials", "client_id": elsewhere, "client_secret": secret},
    )
    assert r.status_code == 200


def test_a_client_of_the_authorization_code_flow(console: Console, http: TestClient) -> None:
    r = console.post(
        "/admin/access/clients",
        {
            "name": "roster app",
            "scope": ["user:read"],
            "grant": ["authorization_code", "refresh_token"],
            "redirect_uris": "https://app.example/cb\r\nhttp://127.0.0.1/callback\r\n",
            "public": "true",
        },
    )
    assert r.status_code == 201, r.text
    client_id = _shown(r.text, "client-id")
    assert 'id="client-secret"' not in r.text and "no secret" in r.text
    page = console.get("/admin/access")
    row = page.text.split(client_id, 1)[1].split("</tr>", 1)[0]
    assert "authorization_code refresh_token (public)" in row
    assert "https://app.example/cb" in row and "http://127.0.0.1/callback" in row
    assert "Rotate secret" not in row
    # A redirect URI that could leak the code is refused, and nothing is made.
    bad = console.post(
        "/admin/access/clients",
        {"name": "leaky", "scope": ["user:read"], "grant": ["authorization_code"],
         "redirect_uris": "http://app.example/cb"},
    )  # fmt: skip
    assert bad.status_code == 400 and "loopback" in bad.text
    assert "leaky" not in console.get("/admin/access").text
