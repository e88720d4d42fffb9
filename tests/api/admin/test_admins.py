"""/admin/api/admins: the /api/v1 login accounts over HTTP, with an OAuth `admin` token.

List, unlock, reset-password and delete, confined to the token's tenant, in the v2 error
format, each audited with the client that asked.
"""

from __future__ import annotations

import re

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rosterd.models import AdminUser, AuditEvent
from rosterd.runtime import Runtime
from tests.api.v1.support import (
    ATTACKER,
    ELSEWHERE,
    USERS,
    Admin,
    attempt,
    door,
    make_admin,
    throttle,
    v1_error,
)
from tests.factories import TenantHandle

ADMINS = "/admin/api/admins"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


@pytest.fixture
def admin(tenant: TenantHandle) -> Admin:
    return make_admin(tenant)


def v2_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["details"], list)
    return str(error["message"])


def audited(runtime: Runtime, admin: Admin, action: str) -> AuditEvent:
    with runtime.db.reader() as session:
        (event,) = session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_id == str(admin.id), AuditEvent.action == action
            )
        ).all()
        session.expunge(event)
        return event


def client_of(tenant: TenantHandle) -> str:
    """The actor an admin-scoped token of the tenant is audited as."""
    return "client:" + jwt.decode(tenant.token("admin"), options={"verify_signature": False})["sub"]


def test_list_shows_the_tenants_admins_only(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle, admin: Admin
) -> None:
    second = make_admin(tenant)
    make_admin(other_tenant)
    assert attempt(door(tenant.runtime), admin.username, admin.password, ELSEWHERE).is_success

    r = http.get(ADMINS, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    items = {a["username"]: a for a in r.json()["items"]}
    assert set(items) == {admin.username, second.username}
    assert TIMESTAMP.match(items[admin.username]["lastLoginAt"])
    assert "lastLoginAt" not in items[second.username]
    assert all(TIMESTAMP.match(a["createdAt"]) for a in items.values())
    assert "password" not in r.text and "argon2" not in r.text


def test_unlock_lifts_the_throttle(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    app = door(runtime)
    throttle(app, admin.username)

    r = http.post(f"{ADMINS}/{admin.username}/unlock", headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["username"] == admin.username
    assert attempt(app, admin.username, admin.password, ATTACKER).status_code == 200

    event = audited(runtime, admin, "admin.unlocked")
    assert (event.actor, event.surface) == (client_of(tenant), "admin")


def test_reset_password(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    app = door(runtime)
    old_token = attempt(app, admin.username, admin.password, ELSEWHERE).json()["access_token"]
    throttle(app, admin.username)
    url = f"{ADMINS}/{admin.username}/password"

    assert "password" in v2_error(
        http.post(url, json={"password": "short"}, headers=tenant.headers("admin")), 400
    )
    v2_error(http.post(url, json={}, headers=tenant.headers("admin")), 400)
    r = http.post(url, json={"password": "a brand new secret"}, headers=tenant.headers("admin"))
    assert r.status_code == 200, r.text
    assert "a brand new secret" not in r.text

    v1_error(attempt(app, admin.username, admin.password, ELSEWHERE), 401)
    fresh = attempt(app, admin.username, "a brand new secret", ATTACKER)  # throttle lifted
    assert fresh.status_code == 200, fresh.text
    assert "revoked" in v1_error(
        http.get(USERS, headers={"Authorization": f"Bearer {old_token}"}), 401
    )
    event = audited(runtime, admin, "admin.password_reset")
    assert (event.actor, event.surface) == (client_of(tenant), "admin")
    assert "a brand new secret" not in repr((event.before, event.after))


def test_delete(http: TestClient, runtime: Runtime, tenant: TenantHandle, admin: Admin) -> None:
    app = door(runtime)
    token = attempt(app, admin.username, admin.password, ELSEWHERE).json()["access_token"]

    r = http.delete(f"{ADMINS}/{admin.username}", headers=tenant.headers("admin"))
    assert r.status_code == 204, r.text
    v1_error(http.get(USERS, headers={"Authorization": f"Bearer {token}"}), 401)
    v1_error(attempt(app, admin.username, admin.password, ELSEWHERE), 401)
    with runtime.db.reader() as session:
        assert session.get(AdminUser, admin.id) is None
    event = audited(runtime, admin, "admin.deleted")
    assert (event.actor, event.before) == (client_of(tenant), {"username": admin.username})
    v2_error(http.delete(f"{ADMINS}/{admin.username}", headers=tenant.headers("admin")), 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/{name}/unlock", None),
        ("POST", "/{name}/password", {"password": "long enough pw"}),
        ("DELETE", "/{name}", None),
    ],
)
def test_another_tenants_admin_is_not_found(
    http: TestClient,
    tenant: TenantHandle,
    other_tenant: TenantHandle,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    theirs = make_admin(other_tenant)
    for name in (theirs.username, "nobody-at-all"):
        r = http.request(
            method, ADMINS + path.format(name=name), json=body, headers=tenant.headers("admin")
        )
        assert "not found" in v2_error(r, 404)
    assert attempt(door(tenant.runtime), theirs.username, theirs.password, ELSEWHERE).is_success


def test_needs_an_admin_token(http: TestClient, tenant: TenantHandle, admin: Admin) -> None:
    assert "OAuth access token" in v2_error(http.get(ADMINS), 401)
    r = http.get(ADMINS, headers=tenant.headers("user:read", "user:write"))
    assert v2_error(r, 403)
    r = http.delete(f"{ADMINS}/{admin.username}", headers=tenant.headers("user:write"))
    v2_error(r, 403)
    assert attempt(door(tenant.runtime), admin.username, admin.password, ELSEWHERE).is_success
