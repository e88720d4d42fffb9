"""/admin/api/api-keys and the expiry of API keys and SCIM tokens on the surfaces that take
them: an expired credential is a 401 that says it expired."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rosterd.models import ApiKey, AuditEvent, ScimToken
from rosterd.models.credential import TenantSecret
from rosterd.runtime import Runtime
from tests.factories import TenantHandle, eventually

KEYS = "/admin/api/api-keys"
SCIM_TOKENS = "/admin/api/scim-tokens"
LONG_AGO = datetime(2023, 3, 4, 5, 6, 7, tzinfo=UTC)
SAYS_EXPIRED = "expired at 2023-03-04T05:06:07Z"


def _in_a_month() -> str:
    return (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()


def _expire(runtime: Runtime, model: type[TenantSecret], record_id: str) -> None:
    """Time passes: the credential's expiry date is now behind it."""
    with runtime.db.writer.begin() as session:
        session.execute(
            update(model).where(model.id == uuid.UUID(record_id)).values(expires_at=LONG_AGO)
        )


def _listed(http: TestClient, path: str, tenant: TenantHandle, record_id: str) -> dict[str, Any]:
    r = http.get(path, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    (row,) = [item for item in r.json()["items"] if item["id"] == record_id]
    return dict(row)


def test_api_keys_are_issued_once_listed_and_revoked(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    r = http.post(KEYS, json={"name": "seam"}, headers=tenant.headers("admin"))
    assert r.status_code == 201, r.text
    made = r.json()
    key = made["apiKey"]
    assert key.startswith("seam_rosterd_")

    ok = http.post("/user_identities/list", json={}, headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.text
    eventually(lambda: _listed(http, KEYS, tenant, made["id"]).get("lastUsedAt"))
    row = _listed(http, KEYS, tenant, made["id"])
    assert "apiKey" not in row and "expiresAt" not in row
    assert key not in http.get(KEYS, headers=tenant.headers("admin")).text

    r = http.delete(f"{KEYS}/{made['id']}", headers=tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["revokedAt"]
    refused = http.post(
        "/user_identities/list", json={}, headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 401

    with runtime.db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.resource_id == made["id"]).order_by(AuditEvent.id)
        ).all()
    assert [e.action for e in events] == ["api_key.created", "api_key.revoked"]
    assert all(e.surface == "admin" and e.actor.startswith("client:") for e in events)
    assert key.removeprefix("seam_rosterd_") not in json.dumps([e.after for e in events])


def test_api_key_admin_needs_the_admin_scope(http: TestClient, tenant: TenantHandle) -> None:
    narrow = tenant.headers("user:read")
    assert http.get(KEYS, headers=narrow).status_code == 403
    assert http.post(KEYS, json={"name": "x"}, headers=narrow).status_code == 403
    assert http.get(KEYS, headers=tenant.headers("admin")).json()["items"] == []


@pytest.mark.parametrize("path", [KEYS, SCIM_TOKENS])
@pytest.mark.parametrize(
    "expires_at", ["2020-01-01T00:00:00Z", "2099-01-01T00:00:00", "2099-13-01T00:00:00Z"]
)
def test_a_bad_expiry_date_is_a_400_naming_it(
    http: TestClient, tenant: TenantHandle, path: str, expires_at: str
) -> None:
    r = http.post(
        path, json={"name": "x", "expiresAt": expires_at}, headers=tenant.headers("admin")
    )
    assert r.status_code == 400, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == ["expiresAt"]
    assert http.get(path, headers=tenant.headers("admin")).json()["items"] == []


def test_an_expired_api_key_is_refused_saying_so_on_both_surfaces(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    expires = _in_a_month()
    made = http.post(
        KEYS, json={"name": "seam", "expiresAt": expires}, headers=tenant.headers("admin")
    ).json()
    assert datetime.fromisoformat(made["expiresAt"]) == datetime.fromisoformat(expires)
    bearer = {"Authorization": f"Bearer {made['apiKey']}"}
    assert http.post("/user_identities/list", json={}, headers=bearer).status_code == 200

    _expire(runtime, ApiKey, made["id"])
    r = http.post("/user_identities/list", json={}, headers=bearer)
    assert r.status_code == 401
    assert SAYS_EXPIRED in r.json()["error"]["message"]
    r = http.get(
        "/v1/seadminusers", headers={**tenant.headers("user:read"), "x-api-key": made["apiKey"]}
    )
    assert r.status_code == 401
    assert SAYS_EXPIRED in r.json()["message"]
    assert _listed(http, KEYS, tenant, made["id"])["expiresAt"].startswith("2023-03-04T05:06:07")


def test_an_expired_scim_token_is_refused_saying_so(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    made = http.post(
        SCIM_TOKENS,
        json={"name": "okta", "expiresAt": _in_a_month()},
        headers=tenant.headers("admin"),
    ).json()
    bearer = {"Authorization": f"Bearer {made['token']}"}
    assert http.get("/scim/v2/Users", headers=bearer).status_code == 200
    eventually(lambda: _listed(http, SCIM_TOKENS, tenant, made["id"]).get("lastUsedAt"))

    _expire(runtime, ScimToken, made["id"])
    # The SCIM surface judges tokens from a per-process cache: a change made in the store
    # behind its back (here, the expiry date) shows within scim_token_cache_seconds.
    deadline = time.monotonic() + runtime.settings.scim_token_cache_seconds + 2
    r = http.get("/scim/v2/Users", headers=bearer)
    while r.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        r = http.get("/scim/v2/Users", headers=bearer)
    assert r.status_code == 401
    assert SAYS_EXPIRED in r.json()["detail"]
