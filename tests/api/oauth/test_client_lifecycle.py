"""An OAuth client's life over HTTP: rotation with a grace period, revocation that reaches
every node within seconds, expiry dates, and last use.

Several rosterd nodes share one store: ``second_node`` is another runtime and app on the
session's store, as a second `rosterd serve` would be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.models import OAuthClient
from rosterd.runtime import Runtime, open_runtime
from rosterd.services.client_gate import TTL
from tests.factories import V2, TenantHandle, eventually

CLIENTS = "/admin/api/oauth-clients"
# What the issue promises: a revoked client's tokens fail on every node within 5 s.
PROPAGATION_BOUND = 5.0


@pytest.fixture(scope="module")
def second_node(settings: Settings) -> Iterator[TestClient]:
    runtime = open_runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            yield client
    finally:
        runtime.close()


def _token(http: TestClient, slug: str, client_id: str, secret: str) -> Response:
    return http.post(
        f"/tenants/{slug}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )


def _access_token(http: TestClient, slug: str, client_id: str, secret: str) -> str:
    r = _token(http, slug, client_id, secret)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(http: TestClient, tenant: TenantHandle, **body: Any) -> dict[str, Any]:
    body = {"name": "hr-sync", "scopes": ["user:read", "user:write"], **body}
    r = http.post(CLIENTS, json=body, headers=tenant.headers("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _invalid_client(r: Response) -> str:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    return str(r.json()["error_description"])


def _v2_refusal(r: Response) -> str:
    assert r.status_code == 401, r.text
    return str(r.json()["error"]["message"])


def _until(check: Callable[[], bool], bound: float) -> float:
    """Seconds until ``check()`` holds, polling; fails if it does not within ``bound``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < bound, f"not within {bound} s"
        time.sleep(0.05)
    return time.monotonic() - started


def _set_client(runtime: Runtime, client_id: str, **values: Any) -> None:
    with runtime.db.writer.begin() as session:
        session.execute(
            update(OAuthClient).where(OAuthClient.client_id == client_id).values(values)
        )


# ---- revocation ----------------------------------------------------------------------------


def test_revocation_reaches_every_node_within_five_seconds(
    http: TestClient, second_node: TestClient, tenant: TenantHandle
) -> None:
    made = _create(http, tenant)
    token = _access_token(http, tenant.slug, made["clientId"], made["clientSecret"])
    # Both nodes honour the token, and so have the client's state in memory.
    for node in (http, second_node):
        assert node.get(f"{V2}/users", headers=_bearer(token)).status_code == 200

    r = http.delete(f"{CLIENTS}/{made['clientId']}", headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["revokedAt"]

    def refused_on_b() -> bool:
        return second_node.get(f"{V2}/users", headers=_bearer(token)).status_code == 401

    _until(refused_on_b, PROPAGATION_BOUND)
    for node in (http, second_node):
        r = node.get(f"{V2}/users", headers=_bearer(token))
        assert "revoked" in _v2_refusal(r)
        # No new tokens either, on any node.
        assert "revoked" in _invalid_client(
            _token(node, tenant.slug, made["clientId"], made["clientSecret"])
        )


def test_a_revoked_clients_token_is_refused_on_every_surface_that_takes_oauth_tokens(
    http: TestClient, tenant: TenantHandle
) -> None:
    made = _create(http, tenant, scopes=["admin"])
    token = _access_token(http, tenant.slug, made["clientId"], made["clientSecret"])
    surfaces = [f"{V2}/users", "/v1/seadminusers", CLIENTS]
    assert http.get(CLIENTS, headers=_bearer(token)).status_code == 200

    r = http.delete(f"{CLIENTS}/{made['clientId']}", headers=_bearer(token))
    assert r.status_code == 200, r.text
    _until(lambda: http.get(CLIENTS, headers=_bearer(token)).status_code == 401, TTL + 3)
    for path in surfaces:
        r = http.get(path, headers=_bearer(token))
        assert r.status_code == 401, (path, r.text)
        assert "revoked" in r.text, (path, r.text)


def test_the_bootstrap_client_can_be_revoked(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    """Any client, the one whose secret was written to a file included."""
    made = _create(http, tenant, name="bootstrap admin", scopes=["admin"])
    r = http.delete(f"{CLIENTS}/{made['clientId']}", headers=tenant.headers("admin"))
    assert r.status_code == 200
    _invalid_client(_token(http, tenant.slug, made["clientId"], made["clientSecret"]))
    again = http.delete(f"{CLIENTS}/{made['clientId']}", headers=tenant.headers("admin"))
    assert again.json()["revokedAt"] == r.json()["revokedAt"]


# ---- rotation ------------------------------------------------------------------------------


def test_rotation_keeps_the_old_secret_during_the_overlap_only(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    made = _create(http, tenant)
    cid, old = made["clientId"], made["clientSecret"]
    before = _access_token(http, tenant.slug, cid, old)

    r = http.post(f"{CLIENTS}/{cid}/rotate", json={}, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    rotated = r.json()
    new = rotated["clientSecret"]
    assert new != old
    until = datetime.fromisoformat(rotated["previousSecretExpiresAt"])
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(hours=24)

    # During the overlap: both secrets get tokens, and every token works.
    during = _access_token(http, tenant.slug, cid, old)
    fresh = _access_token(http, tenant.slug, cid, new)
    for token in (before, during, fresh):
        assert http.get(f"{V2}/users", headers=_bearer(token)).status_code == 200

    # After it: the old secret is refused, the new one works, and tokens already issued with
    # the old secret keep working until they expire (or the client is revoked).
    _set_client(runtime, cid, previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    _invalid_client(_token(http, tenant.slug, cid, old))
    _access_token(http, tenant.slug, cid, new)
    for token in (before, during):
        assert http.get(f"{V2}/users", headers=_bearer(token)).status_code == 200

    listed = http.get(CLIENTS, headers=tenant.headers("admin")).json()["items"]
    (row,) = [c for c in listed if c["clientId"] == cid]
    assert "clientSecret" not in row
    assert old not in str(listed) and new not in str(listed)


def test_rotation_with_no_grace_ends_the_old_secret_at_once(
    http: TestClient, tenant: TenantHandle
) -> None:
    made = _create(http, tenant)
    cid, old = made["clientId"], made["clientSecret"]
    issued_before = _access_token(http, tenant.slug, cid, old)
    r = http.post(
        f"{CLIENTS}/{cid}/rotate", json={"graceSeconds": 0}, headers=tenant.headers("admin")
    )
    assert r.status_code == 200, r.text
    assert "previousSecretExpiresAt" not in r.json()
    _invalid_client(_token(http, tenant.slug, cid, old))
    _access_token(http, tenant.slug, cid, r.json()["clientSecret"])
    assert http.get(f"{V2}/users", headers=_bearer(issued_before)).status_code == 200


# ---- expiry and last use -------------------------------------------------------------------


def test_an_expired_client_gets_no_tokens_and_its_tokens_stop(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    made = _create(http, tenant, expiresAt=expires.isoformat())
    assert datetime.fromisoformat(made["expiresAt"]) == expires
    cid, secret = made["clientId"], made["clientSecret"]
    token = _access_token(http, tenant.slug, cid, secret)

    # Time passes: the client's expiry date is now behind it.
    _set_client(runtime, cid, expires_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    said = _invalid_client(_token(http, tenant.slug, cid, secret))
    assert "expired at 2024-05-06T07:08:09Z" in said

    def refused() -> bool:
        return http.get(f"{V2}/users", headers=_bearer(token)).status_code == 401

    _until(refused, PROPAGATION_BOUND)
    assert "expired" in _v2_refusal(http.get(f"{V2}/users", headers=_bearer(token)))


def test_last_use_is_recorded_and_listed(http: TestClient, tenant: TenantHandle) -> None:
    made = _create(http, tenant)
    assert "lastUsedAt" not in made
    _access_token(http, tenant.slug, made["clientId"], made["clientSecret"])

    def last_use() -> str | None:
        listed = http.get(CLIENTS, headers=tenant.headers("admin")).json()["items"]
        (row,) = [c for c in listed if c["clientId"] == made["clientId"]]
        return row.get("lastUsedAt")

    used = eventually(last_use)
    assert datetime.fromisoformat(used) > datetime.now(UTC) - timedelta(minutes=1)
