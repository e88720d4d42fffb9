"""/admin/api/signing-keys: rotating a tenant's signing key over HTTP, on both databases.

A rotation must not log anyone out: tokens signed before it keep working until they expire,
new tokens carry the new key, and the JWKS publishes both until the old key's tokens have
all expired. Tokens are checked as a resource server would, against the tenant's JWKS.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rosterd.models import AuditEvent, SigningKey
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from tests.api.v1.support import USERS as V1_USERS
from tests.api.v1.support import make_admin
from tests.factories import V2, TenantHandle

KEYS = "/admin/api/signing-keys"
ROTATE = f"{KEYS}/rotate"
_KEY_FIELDS = {"kid", "status", "createdAt", "retiredAt", "verifyUntil", "legacy"}


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _jwks_kids(http: TestClient, tenant: TenantHandle) -> list[str]:
    r = http.get(f"/tenants/{tenant.slug}/.well-known/jwks.json")
    assert r.status_code == 200, r.text
    return [k["kid"] for k in r.json()["keys"]]


def _verifies_with_jwks(http: TestClient, tenant: TenantHandle, token: str) -> bool:
    r = http.get(f"/tenants/{tenant.slug}/.well-known/jwks.json")
    keys = {k["kid"]: k for k in r.json()["keys"]}
    if _kid(token) not in keys:
        return False
    jwt.decode(token, jwt.PyJWK(keys[_kid(token)]), algorithms=["RS256"], audience="rosterd")
    return True


def _fresh_token(tenant: TenantHandle, *scopes: str) -> str:
    """A token from a new client (TenantHandle.token remembers the ones it got)."""
    client_id, secret = tenant.client_credentials(list(scopes))
    r = tenant.http.post(
        f"/tenants/{tenant.slug}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rotate(http: TestClient, tenant: TenantHandle, token: str | None = None) -> dict[str, Any]:
    r = http.post(ROTATE, headers=_bearer(token) if token else tenant.headers("admin"))
    assert r.status_code == 201, r.text
    body = dict(r.json())
    assert set(body) <= _KEY_FIELDS, body
    return body


def _listed(
    http: TestClient, tenant: TenantHandle, token: str | None = None
) -> list[dict[str, Any]]:
    r = http.get(KEYS, headers=_bearer(token) if token else tenant.headers("admin"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    for item in items:
        assert set(item) <= _KEY_FIELDS, item  # never key material
    return list(items)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_rotation_keeps_earlier_tokens_working_and_signs_new_ones_with_the_new_key(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    admin = make_admin(tenant)
    before = _fresh_token(tenant, "user:read")
    v1_before = admin.login(http)
    old_kid = _kid(before)
    assert _kid(v1_before) == old_kid  # /api/v1 logins are signed with the tenant's key too

    new = _rotate(http, tenant)
    assert new["status"] == "signing" and new["kid"] != old_kid

    # Tokens from before still work, on both surfaces, and still verify with the JWKS.
    assert http.get(f"{V2}/users", headers=_bearer(before)).status_code == 200
    assert http.get(V1_USERS, headers=_bearer(v1_before)).status_code == 200
    assert _verifies_with_jwks(http, tenant, before)

    # New ones carry the new key.
    after = _fresh_token(tenant, "user:read")
    assert _kid(after) == new["kid"]
    assert _kid(admin.login(http)) == new["kid"]
    assert _verifies_with_jwks(http, tenant, after)
    assert _jwks_kids(http, tenant)[:2] == [new["kid"], old_kid]

    listed = _listed(http, tenant)
    assert [k["kid"] for k in listed] == [new["kid"], old_kid]
    assert listed[0]["status"] == "signing" and "verifyUntil" not in listed[0]
    retired = listed[1]
    assert retired["status"] == "verifying"
    settings = runtime.settings
    longest = max(settings.access_token_ttl_seconds, settings.api_v1_token_ttl_seconds)
    grace = timedelta(seconds=longest + settings.signing_key_refresh_seconds)
    assert _at(retired["verifyUntil"]) - _at(retired["retiredAt"]) == grace
    # The old key verifies for at least as long as any token it signed lives.
    exp = jwt.decode(before, options={"verify_signature": False})["exp"]
    assert _at(retired["verifyUntil"]).timestamp() >= exp


def test_a_retired_key_is_dropped_once_the_tokens_it_signed_have_expired(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    before = _fresh_token(tenant, "user:read")
    assert http.get(f"{V2}/users", headers=_bearer(before)).status_code == 200  # remembered
    old_kid = _kid(before)
    _rotate(http, tenant)

    # Time passes: the old key was retired longer ago than its grace.
    with runtime.db.writer.begin() as session:
        session.execute(
            update(SigningKey)
            .where(SigningKey.kid == old_kid)
            .values(retired_at=utcnow() - runtime.keys.grace - timedelta(seconds=1))
        )
    runtime.signer.refresh()

    r = http.get(f"{V2}/users", headers=_bearer(before))
    assert r.status_code == 401, r.text
    assert old_kid not in _jwks_kids(http, tenant)
    admin = _fresh_token(tenant, "admin")
    statuses = {k["kid"]: k["status"] for k in _listed(http, tenant, admin)}
    assert statuses[old_kid] == "expired"

    # The next rotation deletes it.
    _rotate(http, tenant, admin)
    assert old_kid not in {k["kid"] for k in _listed(http, tenant, admin)}
    with runtime.db.reader() as session:
        assert session.get(SigningKey, old_kid) is None


def test_a_rotation_is_audited_with_its_actor(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    old_kid = _kid(tenant.token("admin"))
    new = _rotate(http, tenant)
    with runtime.db.reader() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.tenant_id == tenant.id, AuditEvent.action == "signing_key.rotated"
            )
        ).all()
    assert len(events) == 1
    event = events[0]
    client_id = jwt.decode(tenant.token("admin"), options={"verify_signature": False})["sub"]
    assert event.actor == f"client:{client_id}"
    assert event.surface == "admin"
    assert event.resource_type == "signing_key" and event.resource_id == new["kid"]
    assert event.before == {"signing": [old_kid]}
    assert event.after is not None and event.after["signing"] == new["kid"]


def test_the_first_rotation_of_a_tenant_that_never_signed_makes_its_first_key(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    from rosterd.services.context import Actor

    # Through the runtime: an HTTP call would need a token, which would make a key first.
    rotation = runtime.rotate_signing_key(
        tenant.id, Actor(tenant_id=tenant.id, actor="test", surface="test")
    )
    assert rotation.retired == []
    assert _kid(_fresh_token(tenant, "user:read")) == rotation.key.kid


def test_signing_keys_need_the_admin_scope(http: TestClient, tenant: TenantHandle) -> None:
    user_token = tenant.headers("user:read", "user:write", "group:read", "group:write")
    for method, url in (("GET", KEYS), ("POST", ROTATE)):
        r = http.request(method, url, headers=user_token)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "insufficient_scope"
        r = http.request(method, url)
        assert r.status_code == 401, r.text
        assert set(r.json()) == {"error"}
