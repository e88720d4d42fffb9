"""/admin/api/oauth-clients: create (secret once), list, rotate, revoke, with the `admin`
scope, in REST v2's error format, audited with the acting client."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from rosterd.models import AuditEvent
from rosterd.runtime import Runtime
from tests.factories import TenantHandle

CLIENTS = "/admin/api/oauth-clients"


def _error(r: Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def _create(http: TestClient, tenant: TenantHandle, **body: Any) -> Response:
    return http.post(
        CLIENTS,
        json={"name": "hr-sync", "scopes": ["user:read"], **body},
        headers=tenant.headers("admin"),
    )


def test_create_shows_the_secret_once_and_list_never(
    http: TestClient, tenant: TenantHandle
) -> None:
    r = _create(http, tenant, scopes=["user:write", "user:read"])
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["clientId"].startswith("rcl_")
    assert made["clientSecret"].startswith("rcs_")
    assert made["scopes"] == ["user:read", "user:write"]
    assert made["name"] == "hr-sync"
    assert "expiresAt" not in made and "revokedAt" not in made

    listed = http.get(CLIENTS, headers=tenant.headers("admin"))
    assert listed.status_code == 200
    items = listed.json()["items"]
    (row,) = [c for c in items if c["clientId"] == made["clientId"]]
    assert set(row) <= {
        "clientId",
        "name",
        "scopes",
        "grantTypes",
        "redirectUris",
        "public",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
        "revokedAt",
        "previousSecretExpiresAt",
    }
    assert made["clientSecret"] not in listed.text
    assert made["clientSecret"].removeprefix("rcs_") not in listed.text


def test_list_is_the_tenants_own(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    made = _create(http, tenant).json()
    theirs = http.get(CLIENTS, headers=other_tenant.headers("admin")).json()["items"]
    assert made["clientId"] not in {c["clientId"] for c in theirs}
    for path in (f"{CLIENTS}/{made['clientId']}/rotate", f"{CLIENTS}/{made['clientId']}"):
        method = http.post if path.endswith("rotate") else http.delete
        assert method(path, headers=other_tenant.headers("admin")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["user:read", "superuser"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"name": ""}, "name"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({"expiresAt": "2099-01-01T00:00:00"}, "expiresAt"),
        ({"expiresAt": "soon"}, "expiresAt"),
        ({"secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    http: TestClient, tenant: TenantHandle, body: dict[str, Any], field: str
) -> None:
    def listed() -> list[dict[str, Any]]:
        # Without last uses: the admin's own client's is written beside its requests, and may
        # land between two listings.
        items = http.get(CLIENTS, headers=tenant.headers("admin")).json()["items"]
        return [{k: v for k, v in c.items() if k != "lastUsedAt"} for c in items]

    before = listed()
    error = _error(_create(http, tenant, **body), 400)
    assert field in {d["field"] for d in error["details"]}, error
    assert listed() == before


@pytest.mark.parametrize("grace", [-1, 31 * 86400, "a day"])
def test_rotate_with_a_bad_grace_is_a_400(
    http: TestClient, tenant: TenantHandle, grace: Any
) -> None:
    made = _create(http, tenant).json()
    r = http.post(
        f"{CLIENTS}/{made['clientId']}/rotate",
        json={"graceSeconds": grace},
        headers=tenant.headers("admin"),
    )
    assert "graceSeconds" in {d["field"] for d in _error(r, 400)["details"]}


def test_rotate_without_a_body_uses_a_day(http: TestClient, tenant: TenantHandle) -> None:
    made = _create(http, tenant).json()
    r = http.post(f"{CLIENTS}/{made['clientId']}/rotate", headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    until = datetime.fromisoformat(r.json()["previousSecretExpiresAt"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)


def test_unknown_and_revoked_clients(http: TestClient, tenant: TenantHandle) -> None:
    admin = tenant.headers("admin")
    assert _error(http.delete(f"{CLIENTS}/rcl_nosuch", headers=admin), 404)["code"] == "not_found"
    assert _error(http.post(f"{CLIENTS}/rcl_nosuch/rotate", headers=admin), 404)
    made = _create(http, tenant).json()
    assert http.delete(f"{CLIENTS}/{made['clientId']}", headers=admin).status_code == 200
    error = _error(http.post(f"{CLIENTS}/{made['clientId']}/rotate", headers=admin), 409)
    assert "revoked" in error["message"]


def test_the_admin_scope_is_needed(http: TestClient, tenant: TenantHandle) -> None:
    made = _create(http, tenant).json()
    narrow = tenant.headers("user:read", "user:write")
    assert _error(http.get(CLIENTS, headers=narrow), 403)["code"] == "insufficient_scope"
    body = {"name": "x", "scopes": ["admin"]}
    assert _error(http.post(CLIENTS, json=body, headers=narrow), 403)
    assert _error(http.delete(f"{CLIENTS}/{made['clientId']}", headers=narrow), 403)
    assert _error(http.post(f"{CLIENTS}/{made['clientId']}/rotate", headers=narrow), 403)
    assert _error(http.get(CLIENTS), 401)
    # Nothing happened to the client.
    listed = http.get(CLIENTS, headers=tenant.headers("admin")).json()["items"]
    (row,) = [c for c in listed if c["clientId"] == made["clientId"]]
    assert "revokedAt" not in row and "previousSecretExpiresAt" not in row


def test_every_operation_is_audited_with_the_acting_client_and_no_secret(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    admin = tenant.headers("admin")
    made = _create(http, tenant, expiresAt="2099-01-01T00:00:00Z").json()
    cid = made["clientId"]
    rotated = http.post(f"{CLIENTS}/{cid}/rotate", json={"graceSeconds": 60}, headers=admin)
    http.delete(f"{CLIENTS}/{cid}", headers=admin)

    with runtime.db.reader() as session:
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.tenant_id == tenant.id, AuditEvent.resource_id == cid)
                .order_by(AuditEvent.id)
            )
        )
        admin_client = session.scalars(
            select(AuditEvent.resource_id).where(
                AuditEvent.tenant_id == tenant.id,
                AuditEvent.action == "oauth_client.created",
                AuditEvent.resource_id != cid,
            )
        ).one()
    assert [e.action for e in events] == [
        "oauth_client.created",
        "oauth_client.rotated",
        "oauth_client.revoked",
    ]
    # The actor is the client whose admin token made the call.
    assert {(e.actor, e.surface) for e in events} == {(f"client:{admin_client}", "admin")}
    assert all(e.request_id for e in events)
    assert events[0].after is not None
    assert events[0].after["expires_at"] == "2099-01-01T00:00:00+00:00"
    dumped = json.dumps([[e.before, e.after] for e in events])
    for secret in (made["clientSecret"], rotated.json()["clientSecret"]):
        assert secret.removeprefix("rcs_") not in dumped


def test_create_a_public_client_of_the_authorization_code_flow(
    http: TestClient, tenant: TenantHandle
) -> None:
    r = _create(
        http,
        tenant,
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["https://app.example/callback"],
        public=True,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert "clientSecret" not in made and made["public"] is True
    assert made["grantTypes"] == ["authorization_code", "refresh_token"]
    assert made["redirectUris"] == ["https://app.example/callback"]
    listed = http.get(CLIENTS, headers=tenant.headers("admin")).json()["items"]
    assert [c["redirectUris"] for c in listed if c["clientId"] == made["clientId"]] == [
        ["https://app.example/callback"]
    ]
    bad = _error(
        _create(
            http, tenant, grantTypes=["authorization_code"], redirectUris=["http://x.example/"]
        ),
        400,
    )
    assert "redirect_uris" in bad["message"]
