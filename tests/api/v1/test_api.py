"""/api/v1 (seed 004, Sisense User Management API): login, users, groups, roles, the
three seed scenarios, the error format and bad input, through the in-process app.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from rosterd.api.app import create_app
from rosterd.auth.secrets import verify_password
from rosterd.auth.tokens import API_V1_AUDIENCE, OAUTH_AUDIENCE
from rosterd.cli.main import app as cli_app
from rosterd.config import Settings, get_settings
from rosterd.models import AdminUser, User
from rosterd.models.base import utcnow
from rosterd.runtime import BOOTSTRAP_ADMIN, Runtime, open_runtime
from rosterd.services import tenants as tenants_service
from tests.api.v1.support import (
    GROUPS,
    LOGIN,
    LOGOUT,
    PASSWORD,
    ROLES,
    USERS,
    Admin,
    make_admin,
    unique_email,
    v1_error,
)
from tests.backends import database_url
from tests.factories import V2, TenantHandle

SCIM = "/api/scim/v2"
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BAD_CREDENTIALS = "invalid username or password"


@pytest.fixture
def admin(tenant: TenantHandle) -> Admin:
    return make_admin(tenant)


@pytest.fixture
def h(http: TestClient, admin: Admin) -> dict[str, str]:
    return admin.headers(http)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(http: TestClient, username: str, password: str) -> Any:
    return http.post(LOGIN, json={"username": username, "password": password})


def _create(http: TestClient, h: dict[str, str], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email": unique_email(), "password": PASSWORD}
    body.update(fields)
    r = http.post(USERS, json=body, headers=h)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _group(http: TestClient, h: dict[str, str], name: str | None = None) -> dict[str, Any]:
    r = http.post(GROUPS, json={"name": name or f"group-{secrets.token_hex(4)}"}, headers=h)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _get(http: TestClient, h: dict[str, str], user_id: str, **params: Any) -> dict[str, Any]:
    r = http.get(f"{USERS}/{user_id}", params=params, headers=h)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _list(http: TestClient, h: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = http.get(USERS, params=params, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list), body
    return body


def _roles(http: TestClient, h: dict[str, str]) -> dict[str, str]:
    r = http.get(ROLES, headers=h)
    assert r.status_code == 200, r.text
    return {role["name"]: role["_id"] for role in r.json()}


def _set_last_login(runtime: Runtime, user_id: str, when: datetime | None) -> None:
    with runtime.db.writer.begin() as session:
        user = session.get(User, uuid.UUID(user_id))
        assert user is not None
        user.last_login_at = when


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ---- login, tokens, logout ---------------------------------------------------------------------


def test_login_returns_a_bearer_jwt_for_api_v1_only(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    r = _login(http, admin.username, admin.password)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == runtime.settings.api_v1_token_ttl_seconds
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == API_V1_AUDIENCE
    assert claims["sub"] == str(admin.id)
    assert claims["tid"] == str(tenant.id)
    assert claims["exp"] - claims["iat"] == body["expires_in"]

    oauth_claims = jwt.decode(tenant.token(), options={"verify_signature": False})
    assert oauth_claims["aud"] == OAUTH_AUDIENCE != claims["aud"]
    # The OAuth audience refuses the login token, and the other way round.
    assert runtime.signer.verify(body["access_token"]) is None
    assert runtime.signer.verify(body["access_token"], audience=API_V1_AUDIENCE) is not None

    r = http.get(USERS, headers=_bearer(body["access_token"]))
    assert r.status_code == 200, r.text
    r = http.get("/api/users/loggedin", headers=_bearer(body["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"userName": admin.username, "tenantId": str(tenant.id)}


def test_wrong_password_and_unknown_user_answer_alike(http: TestClient, admin: Admin) -> None:
    wrong = _login(http, admin.username, "not the password")
    unknown = _login(http, f"nobody-{secrets.token_hex(4)}", "not the password")
    assert v1_error(wrong, 401) == v1_error(unknown, 401) == BAD_CREDENTIALS
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert "access_token" not in wrong.text


@pytest.mark.parametrize(
    "body",
    [
        {"username": "someone"},
        {"password": "something"},
        {"username": "", "password": "something"},
        {"username": "someone", "password": ""},
        {"username": 5, "password": "something"},
    ],
    ids=["no-password", "no-username", "empty-username", "empty-password", "number"],
)
def test_login_validates_its_body(http: TestClient, body: dict[str, Any]) -> None:
    v1_error(http.post(LOGIN, json=body), 400)


def _issue(runtime: Runtime, admin: Admin, tenant: TenantHandle, *, ttl: int) -> str:
    return runtime.signer.issue(
        issuer="http://testserver/api/v1",
        tenant_id=tenant.id,
        subject=str(admin.id),
        scopes=["admin"],
        ttl=ttl,
        audience=API_V1_AUDIENCE,
        extra={"epoch": 0, "name": admin.username},
    )


def test_an_expired_token_is_refused(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    fresh = _issue(runtime, admin, tenant, ttl=60)
    assert http.get(USERS, headers=_bearer(fresh)).status_code == 200
    expired = _issue(runtime, admin, tenant, ttl=-10)
    message = v1_error(http.get(USERS, headers=_bearer(expired)), 401)
    assert "expired" in message and "log in" in message


def test_logout_revokes_every_earlier_token(http: TestClient, admin: Admin) -> None:
    first, second = admin.login(http), admin.login(http)
    for token in (first, second):
        assert http.get(USERS, headers=_bearer(token)).status_code == 200

    r = http.post(LOGOUT, headers=_bearer(second))
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}

    for token in (first, second):
        assert "revoked" in v1_error(http.get(USERS, headers=_bearer(token)), 401)
    v1_error(http.post(LOGOUT, headers=_bearer(first)), 401)
    third = admin.login(http)
    assert http.get(USERS, headers=_bearer(third)).status_code == 200


def test_logout_of_one_admin_leaves_the_others_logged_in(
    http: TestClient, tenant: TenantHandle, admin: Admin
) -> None:
    other = make_admin(tenant)
    mine, theirs = admin.login(http), other.login(http)
    assert http.post(LOGOUT, headers=_bearer(mine)).status_code == 200
    assert http.get(USERS, headers=_bearer(theirs)).status_code == 200


def test_an_oauth_access_token_is_refused_with_a_pointer_to_login(
    http: TestClient, tenant: TenantHandle
) -> None:
    message = v1_error(http.get(USERS, headers=tenant.headers()), 401)
    assert LOGIN in message and "OAuth" in message


def test_an_api_v1_token_does_not_work_on_integration_v2(http: TestClient, admin: Admin) -> None:
    r = http.get(f"{V2}/users", headers=admin.headers(http))
    assert r.status_code == 401, r.text


@pytest.mark.parametrize(
    "header",
    [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"],
    ids=["missing", "garbage", "basic"],
)
def test_requests_without_a_valid_token_are_refused(http: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for path in (USERS, GROUPS, ROLES, "/api/roles", "/api/users/loggedin"):
        v1_error(http.get(path, headers=headers), 401)


def test_a_scim_token_is_refused_and_the_other_way_round(
    http: TestClient, tenant: TenantHandle, h: dict[str, str]
) -> None:
    scim = {"Authorization": tenant.scim_headers()["Authorization"]}
    assert "SCIM" in v1_error(http.get(USERS, headers=scim), 401)
    assert http.get(f"{SCIM}/Users", headers=h).status_code == 401


# ---- users -------------------------------------------------------------------------------------


def test_create_with_every_field(
    http: TestClient, runtime: Runtime, h: dict[str, str], tenant: TenantHandle
) -> None:
    roles = _roles(http, h)
    sales, support = _group(http, h), _group(http, h)
    email = unique_email("Jane.Doe")
    body = {
        "email": email,
        "userName": f"jdoe-{secrets.token_hex(3)}",
        "firstName": "Jane",
        "lastName": "Doe",
        "roleId": roles["Viewer"],
        "groups": [sales["_id"], support["_id"]],
        "password": "Str0ng!password",
        "preferences": {"language": "fr-FR"},
        "active": True,
    }
    r = http.post(USERS, json=body, headers=h)
    assert r.status_code == 201, r.text
    user = r.json()
    assert "password" not in user and "passwordHash" not in user
    assert uuid.UUID(user["_id"])
    for key in ("email", "userName", "firstName", "lastName", "roleId", "preferences", "active"):
        assert user[key] == body[key], key
    assert sorted(user["groups"]) == sorted(body["groups"])
    assert user["lastLogin"] is None
    assert user["created"] and user["created"].endswith("Z")

    # Read back, expanded.
    got = _get(http, h, user["_id"], expand="groups,role")
    assert got["role"] == {"_id": roles["Viewer"], "name": "Viewer"}
    assert sorted(g["name"] for g in got["groups"]) == sorted([sales["name"], support["name"]])
    with runtime.db.reader() as session:
        row = session.get(User, uuid.UUID(user["_id"]))
        assert row is not None and row.password_hash is not None
        assert verify_password(row.password_hash, "Str0ng!password")

    # Seen by the other surfaces too.
    r = http.get(f"{V2}/users/{user['_id']}", headers=tenant.headers("user:read"))
    assert r.status_code == 200, r.text
    assert r.json()["email"] == email


def test_create_defaults_username_to_email_and_can_create_inactive(
    http: TestClient, h: dict[str, str]
) -> None:
    email = unique_email()
    user = _create(http, h, email=email, active=False)
    assert user["userName"] == email
    assert user["active"] is False
    assert user["groups"] == [] and user["roleId"] is None
    assert user["preferences"] == {}


def test_password_is_required_unless_the_tenant_is_sso_only(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, h: dict[str, str]
) -> None:
    email = unique_email()
    message = v1_error(http.post(USERS, json={"email": email}, headers=h), 400)
    assert message.startswith("password:") and "SSO" in message
    assert _list(http, h, email=email) == []

    with runtime.db.writer.begin() as session:
        tenants_service.set_sso_only(
            session, tenants_service.get_tenant_by_slug(session, tenant.slug), True
        )
    r = http.post(USERS, json={"email": email}, headers=h)
    assert r.status_code == 201, r.text
    with runtime.db.reader() as session:
        row = session.get(User, uuid.UUID(r.json()["_id"]))
        assert row is not None and row.password_hash is None
    # A password is still checked when one is given.
    message = v1_error(
        http.post(USERS, json={"email": unique_email(), "password": "short"}, headers=h), 400
    )
    assert message.startswith("password:")


def test_duplicates_conflict(http: TestClient, h: dict[str, str]) -> None:
    user = _create(http, h)
    message = v1_error(
        http.post(USERS, json={"email": user["email"].upper(), "password": PASSWORD}, headers=h),
        409,
    )
    assert "already exists" in message
    other = _create(http, h)
    r = http.patch(f"{USERS}/{other['_id']}", json={"userName": user["userName"]}, headers=h)
    v1_error(r, 409)
    assert _get(http, h, other["_id"])["userName"] == other["userName"]


def test_list_pages_with_skip_and_limit(http: TestClient, h: dict[str, str]) -> None:
    made = [_create(http, h)["_id"] for _ in range(5)]
    everyone = [u["_id"] for u in _list(http, h)]
    assert everyone == made  # creation order, the whole directory without skip/limit
    pages = [
        [u["_id"] for u in _list(http, h, skip=skip, limit=2)] for skip in range(0, len(made), 2)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [uid for page in pages for uid in page] == made
    assert _list(http, h, skip=5, limit=2) == []
    assert _list(http, h, limit=0) == []
    assert [u["_id"] for u in _list(http, h, skip=3)] == made[3:]


def test_list_expands_groups_and_role(http: TestClient, h: dict[str, str]) -> None:
    roles = _roles(http, h)
    group = _group(http, h)
    user = _create(http, h, roleId=roles["Manager"], groups=[group["_id"]])

    (plain,) = _list(http, h, email=user["email"])
    assert plain["groups"] == [group["_id"]] and "role" not in plain

    (expanded,) = _list(http, h, email=user["email"], expand="groups,role")
    assert expanded["groups"] == [{"_id": group["_id"], "name": group["name"]}]
    assert expanded["role"] == {"_id": roles["Manager"], "name": "Manager"}
    assert expanded["roleId"] == roles["Manager"]
    (only_role,) = _list(http, h, email=user["email"], expand=" Role ")
    assert only_role["groups"] == [group["_id"]] and only_role["role"]["name"] == "Manager"


def test_list_filters(http: TestClient, runtime: Runtime, h: dict[str, str]) -> None:
    now = utcnow()
    idle = _create(http, h, userName=f"Idle-{secrets.token_hex(3)}")
    recent = _create(http, h)
    never = _create(http, h)
    gone = _create(http, h, active=False)
    _set_last_login(runtime, idle["_id"], now - timedelta(days=120))
    _set_last_login(runtime, recent["_id"], now - timedelta(days=3))
    _set_last_login(runtime, gone["_id"], now - timedelta(days=400))

    def ids(**params: Any) -> set[str]:
        return {u["_id"] for u in _list(http, h, **params)}

    assert ids(email=idle["email"].upper()) == {idle["_id"]}
    assert ids(userName=idle["userName"].lower()) == {idle["_id"]}
    assert ids(email="nobody@example.com") == set()
    assert ids(active="false") == {gone["_id"]}
    assert ids(active="true") == {idle["_id"], recent["_id"], never["_id"]}
    cutoff = now - timedelta(days=90)
    # Idle since before the cutoff; never having logged in counts as idle.
    assert ids(lastLoginBefore=_iso(cutoff)) == {idle["_id"], never["_id"], gone["_id"]}
    assert ids(lastLoginBefore=cutoff.isoformat()) == {idle["_id"], never["_id"], gone["_id"]}
    assert ids(lastLoginBefore=_iso(cutoff), active="true") == {idle["_id"], never["_id"]}
    assert ids(lastLoginBefore=_iso(now - timedelta(days=1000))) == {never["_id"]}
    (row,) = _list(http, h, email=idle["email"])
    assert row["lastLogin"] is not None
    last_login = datetime.fromisoformat(row["lastLogin"].replace("Z", "+00:00"))
    assert abs(last_login - (now - timedelta(days=120))) < timedelta(seconds=1)


def test_a_timestamp_without_offset_is_read_as_utc(
    http: TestClient, runtime: Runtime, h: dict[str, str]
) -> None:
    user = _create(http, h)
    _set_last_login(runtime, user["_id"], datetime(2024, 1, 1, 12, tzinfo=UTC))
    before = _list(http, h, email=user["email"], lastLoginBefore="2024-01-01T12:00:01")
    after = _list(http, h, email=user["email"], lastLoginBefore="2024-01-01T11:59:59")
    assert [u["_id"] for u in before] == [user["_id"]]
    assert after == []
    assert [u["_id"] for u in _list(http, h, lastLoginBefore="2024-01-02")] == [user["_id"]]
    assert _list(http, h, lastLoginBefore="2024-01-01") == []


def test_get_and_patch_change_only_the_fields_sent(http: TestClient, h: dict[str, str]) -> None:
    roles = _roles(http, h)
    group = _group(http, h)
    user = _create(
        http,
        h,
        firstName="John",
        lastName="Doe",
        roleId=roles["User"],
        groups=[group["_id"]],
        preferences={"language": "en-US"},
    )
    assert _get(http, h, user["_id"]) == user

    r = http.patch(
        f"{USERS}/{user['_id']}", json={"firstName": "Jane", "roleId": roles["Admin"]}, headers=h
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["firstName"] == "Jane" and patched["roleId"] == roles["Admin"]
    unchanged = {k: v for k, v in user.items() if k not in {"firstName", "roleId", "lastUpdated"}}
    assert {k: patched[k] for k in unchanged} == unchanged
    assert _get(http, h, user["_id"]) == patched

    # An empty body changes nothing; null clears the optional fields.
    r = http.patch(f"{USERS}/{user['_id']}", json={}, headers=h)
    assert r.status_code == 200 and r.json() == patched
    r = http.patch(f"{USERS}/{user['_id']}", json={"lastName": None, "roleId": None}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["lastName"] is None and r.json()["roleId"] is None
    assert r.json()["firstName"] == "Jane" and r.json()["groups"] == [group["_id"]]


def test_patch_groups_and_active(http: TestClient, tenant: TenantHandle, h: dict[str, str]) -> None:
    a, b, c = _group(http, h), _group(http, h), _group(http, h)
    user = _create(http, h, groups=[a["_id"], b["_id"]])

    r = http.patch(f"{USERS}/{user['_id']}", json={"groups": [b["_id"], c["_id"]]}, headers=h)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["groups"]) == sorted([b["_id"], c["_id"]])

    r = http.patch(f"{USERS}/{user['_id']}", json={"groups": []}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["groups"] == []
    r = http.get(GROUPS, params={"expand": "users"}, headers=h)
    assert all(g["users"] == [] for g in r.json() if g["_id"] in {a["_id"], b["_id"], c["_id"]})

    r = http.patch(f"{USERS}/{user['_id']}", json={"active": False}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert _get(http, h, user["_id"])["active"] is False
    r = http.get(f"{V2}/users/{user['_id']}", headers=tenant.headers("user:read"))
    assert r.json()["status"] != "active"
    r = http.patch(f"{USERS}/{user['_id']}", json={"active": True}, headers=h)
    assert r.status_code == 200 and r.json()["active"] is True


def test_patch_password_and_email(http: TestClient, runtime: Runtime, h: dict[str, str]) -> None:
    user = _create(http, h)
    new_email = unique_email("renamed")
    r = http.patch(
        f"{USERS}/{user['_id']}", json={"password": "a new password", "email": new_email}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new_email and "password" not in r.json()
    with runtime.db.reader() as session:
        row = session.get(User, uuid.UUID(user["_id"]))
        assert row is not None and row.password_hash is not None
        assert verify_password(row.password_hash, "a new password")

    # The unversioned path pysisense uses for password changes.
    r = http.patch(f"/api/users/{user['_id']}", json={"password": "yet another one"}, headers=h)
    assert r.status_code == 200, r.text
    with runtime.db.reader() as session:
        row = session.get(User, uuid.UUID(user["_id"]))
        assert row is not None and row.password_hash is not None
        assert verify_password(row.password_hash, "yet another one")
    v1_error(http.patch(f"/api/users/{user['_id']}", json={"password": "short"}, headers=h), 400)


def test_delete_is_permanent(http: TestClient, h: dict[str, str]) -> None:
    group = _group(http, h)
    user = _create(http, h, groups=[group["_id"]])
    keep = _create(http, h)
    r = http.delete(f"{USERS}/{user['_id']}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert "not found" in v1_error(http.get(f"{USERS}/{user['_id']}", headers=h), 404)
    v1_error(http.delete(f"{USERS}/{user['_id']}", headers=h), 404)
    v1_error(http.patch(f"{USERS}/{user['_id']}", json={"active": True}, headers=h), 404)
    assert [u["_id"] for u in _list(http, h)] == [keep["_id"]]
    r = http.get(GROUPS, params={"name": group["name"], "expand": "users"}, headers=h)
    assert r.json()[0]["users"] == []


def test_bulk_create_is_all_or_nothing(http: TestClient, h: dict[str, str]) -> None:
    roles = _roles(http, h)
    group = _group(http, h)
    items = [
        {
            "email": unique_email(),
            "firstName": f"Bulk{i}",
            "roleId": roles["Viewer"],
            "groups": [group["_id"]],
            "password": PASSWORD,
        }
        for i in range(3)
    ]
    r = http.post(f"{USERS}/bulk", json=items, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert [u["email"] for u in created] == [i["email"] for i in items]
    assert all(u["groups"] == [group["_id"]] and u["roleId"] == roles["Viewer"] for u in created)
    assert {u["_id"] for u in _list(http, h)} == {u["_id"] for u in created}

    # One bad item (a taken email, or an unknown role) and none is created.
    fresh = [{"email": unique_email(), "password": PASSWORD} for _ in range(2)]
    for bad, status, where in [
        ({"email": items[0]["email"], "password": PASSWORD}, 409, "users[1]"),
        ({"email": unique_email(), "password": PASSWORD, "roleId": str(uuid.uuid4())}, 400, "1"),
        ({"email": fresh[0]["email"], "password": PASSWORD}, 409, "users[1]"),
        ({"email": "not an email"}, 400, "1"),
    ]:
        message = v1_error(
            http.post(f"{USERS}/bulk", json=[fresh[0], bad, fresh[1]], headers=h), status
        )
        assert where in message, message
    assert {u["_id"] for u in _list(http, h)} == {u["_id"] for u in created}

    r = http.post(f"{USERS}/bulk", json=[], headers=h)
    assert r.status_code == 201 and r.json() == []
    v1_error(http.post(f"{USERS}/bulk", json={"email": unique_email()}, headers=h), 400)


def test_tenants_stay_apart(
    http: TestClient, h: dict[str, str], other_tenant: TenantHandle
) -> None:
    user = _create(http, h)
    group = _group(http, h)
    theirs = make_admin(other_tenant).headers(http)
    assert _list(http, theirs) == []
    v1_error(http.get(f"{USERS}/{user['_id']}", headers=theirs), 404)
    v1_error(http.delete(f"{USERS}/{user['_id']}", headers=theirs), 404)
    v1_error(
        http.post(
            USERS,
            json={"email": unique_email(), "password": PASSWORD, "groups": [group["_id"]]},
            headers=theirs,
        ),
        400,
    )
    assert _get(http, h, user["_id"])["_id"] == user["_id"]


# ---- roles and groups ---------------------------------------------------------------------------


def test_roles_on_both_paths(http: TestClient, h: dict[str, str], tenant: TenantHandle) -> None:
    r1, r2 = http.get(ROLES, headers=h), http.get("/api/roles", headers=h)
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()
    by_name = {role["name"]: role for role in r1.json()}
    assert set(by_name) == {"Admin", "Manager", "User", "Viewer"}
    for role in by_name.values():
        assert uuid.UUID(role["_id"])
        assert role["system"] is True and isinstance(role["permissions"], list)
    custom = tenant.role(name="Auditor")
    assert {r["name"] for r in http.get(ROLES, headers=h).json()} >= {"Auditor"}
    user = _create(http, h, roleId=custom["id"])
    assert user["roleId"] == custom["id"]


def test_groups_list_with_users_and_by_name(http: TestClient, h: dict[str, str]) -> None:
    sales, empty = _group(http, h, "Sales Team"), _group(http, h)
    alice = _create(http, h, firstName="Alice", groups=[sales["_id"]])
    bob = _create(http, h, firstName="Bob", groups=[sales["_id"]])

    r = http.get(GROUPS, headers=h)
    assert r.status_code == 200, r.text
    assert {g["_id"]: g["name"] for g in r.json()} == {
        sales["_id"]: "Sales Team",
        empty["_id"]: empty["name"],
    }
    assert all("users" not in g for g in r.json())

    r = http.get(GROUPS, params={"expand": "users"}, headers=h)
    assert r.status_code == 200, r.text
    members = {g["_id"]: {u["_id"] for u in g["users"]} for g in r.json()}
    assert members == {sales["_id"]: {alice["_id"], bob["_id"]}, empty["_id"]: set()}
    (row,) = [u for g in r.json() for u in g["users"] if u["_id"] == alice["_id"]]
    assert row["email"] == alice["email"] and row["active"] is True

    for name in ("Sales Team", "sales team"):
        r = http.get(GROUPS, params={"name": name}, headers=h)
        assert [g["_id"] for g in r.json()] == [sales["_id"]]
    assert http.get(GROUPS, params={"name": "Sales"}, headers=h).json() == []
    r = http.get(GROUPS, params={"name": "Sales Team", "expand": "users"}, headers=h)
    assert {u["_id"] for u in r.json()[0]["users"]} == {alice["_id"], bob["_id"]}

    r = http.get(f"{GROUPS}/{sales['_id']}", params={"expand": "users"}, headers=h)
    assert r.status_code == 200 and len(r.json()["users"]) == 2


def test_group_bulk_create_and_delete(http: TestClient, h: dict[str, str]) -> None:
    r = http.post(f"{GROUPS}/bulk", json=[{"name": "Ops"}, {"name": "Finance"}], headers=h)
    assert r.status_code == 201, r.text
    ops, finance = r.json()
    assert (ops["name"], finance["name"]) == ("Ops", "Finance")
    message = v1_error(
        http.post(f"{GROUPS}/bulk", json=[{"name": "Legal"}, {"name": "ops"}], headers=h), 409
    )
    assert "groups[1]" in message
    assert http.get(GROUPS, params={"name": "Legal"}, headers=h).json() == []

    user = _create(http, h, groups=[ops["_id"], finance["_id"]])
    r = http.delete(f"{GROUPS}/{ops['_id']}", headers=h)
    assert r.status_code == 204, r.text
    v1_error(http.get(f"{GROUPS}/{ops['_id']}", headers=h), 404)
    assert _get(http, h, user["_id"])["groups"] == [finance["_id"]]


# ---- the seed's three scenarios -----------------------------------------------------------------


def test_scenario_provision_a_user_with_role_and_group_looked_up_by_name(
    http: TestClient, tenant: TenantHandle, admin: Admin
) -> None:
    sales = _group(http, admin.headers(http), "Sales Team")

    # 1. log in
    r = http.post(LOGIN, json={"username": admin.username, "password": admin.password})
    assert r.status_code == 200, r.text
    h = _bearer(r.json()["access_token"])
    # 2. the roleId by name
    r = http.get(ROLES, headers=h)
    role_id = next(role["_id"] for role in r.json() if role["name"] == "Viewer")
    # 3. the groupId by name
    r = http.get(GROUPS, params={"name": "Sales Team"}, headers=h)
    (group,) = r.json()
    assert group["_id"] == sales["_id"]
    # 4. create
    body = {
        "userName": "jdoe",
        "email": "jdoe@example.com",
        "firstName": "John",
        "lastName": "Doe",
        "roleId": role_id,
        "groups": [group["_id"]],
        "password": "Str0ng!Pass",
    }
    r = http.post(USERS, json=body, headers=h)
    assert r.status_code == 201, r.text
    new_id = r.json()["_id"]
    # 5. verify
    user = _get(http, h, new_id, expand="groups,role")
    assert user["userName"] == "jdoe" and user["email"] == "jdoe@example.com"
    assert user["role"]["name"] == "Viewer" and user["roleId"] == role_id
    assert user["groups"] == [{"_id": sales["_id"], "name": "Sales Team"}]
    assert user["active"] is True


def test_scenario_bulk_deactivate_users_idle_for_90_days(
    http: TestClient, runtime: Runtime, h: dict[str, str]
) -> None:
    now = utcnow()
    logins = {
        "idle-a": now - timedelta(days=91),
        "idle-b": now - timedelta(days=365),
        "idle-c": now - timedelta(days=200),
        "recent": now - timedelta(days=89),
        "today": now,
    }
    users = {name: _create(http, h, userName=name) for name in logins}
    for name, when in logins.items():
        _set_last_login(runtime, users[name]["_id"], when)
    already = _create(http, h, userName="already-off", active=False)
    _set_last_login(runtime, already["_id"], now - timedelta(days=500))

    # 1-2. page through the idle, active users (server-side filter), collecting first: changing
    # users while paging over a filter they leave would shift the later pages.
    cutoff = _iso(now - timedelta(days=90))
    idle: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = _list(http, h, skip=skip, limit=2, active="true", lastLoginBefore=cutoff)
        idle += page
        if len(page) < 2:
            break
        skip += 2
    assert {u["userName"] for u in idle} == {"idle-a", "idle-b", "idle-c"}
    assert all(u["active"] and u["lastLogin"] < cutoff for u in idle)

    # 3. deactivate each
    for user in idle:
        r = http.patch(f"{USERS}/{user['_id']}", json={"active": False}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["active"] is False

    state = {u["userName"]: u["active"] for u in _list(http, h)}
    assert state == {
        "idle-a": False,
        "idle-b": False,
        "idle-c": False,
        "recent": True,
        "today": True,
        "already-off": False,
    }
    assert _list(http, h, active="true", lastLoginBefore=cutoff) == []


def test_scenario_scim_provisioning_then_role_by_rest(
    http: TestClient, tenant: TenantHandle, h: dict[str, str]
) -> None:
    roles = _roles(http, h)
    scim = tenant.scim_headers()
    email = unique_email("okta")

    # The IdP pushes a user...
    r = http.post(
        f"{SCIM}/Users",
        json={
            "schemas": [SCIM_USER],
            "userName": email,
            "name": {"givenName": "Okta", "familyName": "Pushed"},
            "emails": [{"primary": True, "value": email, "type": "work"}],
            "active": True,
        },
        headers=scim,
    )
    assert r.status_code == 201, r.text
    scim_id = r.json()["id"]
    (user,) = _list(http, h, email=email)
    assert user["_id"] == scim_id and user["userName"] == email
    assert user["firstName"] == "Okta" and user["roleId"] is None

    # ... and a group with it as a member: a group, not a role.
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [SCIM_GROUP],
            "displayName": "Okta Sales",
            "members": [{"value": scim_id}],
        },
        headers=scim,
    )
    assert r.status_code == 201, r.text
    (group,) = http.get(GROUPS, params={"name": "Okta Sales", "expand": "users"}, headers=h).json()
    assert [u["_id"] for u in group["users"]] == [scim_id]
    assert _get(http, h, scim_id)["roleId"] is None

    # The supplemental REST call that assigns the role.
    r = http.patch(f"{USERS}/{scim_id}", json={"roleId": roles["Viewer"]}, headers=h)
    assert r.status_code == 200, r.text
    assert _get(http, h, scim_id, expand="groups,role")["role"]["name"] == "Viewer"

    # Deactivation through SCIM shows in /api/v1; the role assignment survives it.
    r = http.patch(
        f"{SCIM}/Users/{scim_id}",
        json={
            "schemas": [SCIM_PATCH],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
        headers=scim,
    )
    assert r.status_code == 200, r.text
    user = _get(http, h, scim_id, expand="groups,role")
    assert user["active"] is False and user["role"]["name"] == "Viewer"
    assert user["groups"] == [{"_id": group["_id"], "name": "Okta Sales"}]


# ---- error format and bad input -----------------------------------------------------------------


def test_errors_have_the_documented_shape(http: TestClient, h: dict[str, str]) -> None:
    v1_error(http.get(USERS), 401)
    v1_error(http.get(f"{USERS}/{uuid.uuid4()}", headers=h), 404)
    v1_error(http.get("/api/v1/nothing-here", headers=h), 404)
    v1_error(http.put(f"{USERS}/{uuid.uuid4()}", json={}, headers=h), 405)
    v1_error(http.post(USERS, json={}, headers=h), 400)


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ('{"email": "a@example.com", ', "malformed JSON"),
        ({"email": "a@example.com", "password": PASSWORD, "active": "yes"}, "active"),
        ({"email": "a@example.com", "password": PASSWORD, "isAdmin": True}, "isAdmin"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "roleId": "UNKNOWN_ROLE"}, "roleId"),
        ({"email": "a@example.com", "password": PASSWORD, "roleId": "RANDOM"}, "roleId"),
        ({"email": "a@example.com", "password": PASSWORD, "groups": "sales"}, "groups"),
        ({"email": "a@example.com", "password": PASSWORD, "groups": ["GROUP"]}, "groups"),
        ({"email": "a@example.com", "password": PASSWORD, "groups": ["UNKNOWN"]}, "groups"),
        ({"email": "a@example.com", "password": PASSWORD, "firstName": 7}, "firstName"),
        ({"email": "a@example.com", "password": PASSWORD, "firstName": "A\x00B"}, "firstName"),
        ({"email": "a@example.com", "password": PASSWORD, "preferences": []}, "preferences"),
        ({"password": PASSWORD}, "email"),
        ([{"email": "a@example.com", "password": PASSWORD}], "body"),
    ],
    ids=[
        "malformed-json",
        "active-yes",
        "unknown-field",
        "invalid-email",
        "short-password",
        "unknown-role-id",
        "non-uuid-role-id",
        "groups-not-a-list",
        "non-uuid-group",
        "unknown-group-id",
        "number-name",
        "nul-in-name",
        "preferences-list",
        "no-email",
        "a-list",
    ],
)
def test_bad_create_is_refused_and_writes_nothing(
    http: TestClient, h: dict[str, str], body: Any, mentions: str
) -> None:
    if isinstance(body, dict):
        if body.get("roleId") == "UNKNOWN_ROLE":
            body = {**body, "roleId": str(uuid.uuid4())}
        if body.get("groups") == ["UNKNOWN"]:
            real = _group(http, h)
            body = {**body, "groups": [real["_id"], str(uuid.uuid4())]}
    if isinstance(body, str):
        r = http.post(USERS, content=body, headers={**h, "Content-Type": "application/json"})
    else:
        r = http.post(USERS, json=body, headers=h)
    message = v1_error(r, 400)
    assert mentions in message, message
    assert _list(http, h) == []


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ('{"firstName": ', "malformed JSON"),
        ({"firstName": "Changed", "active": "yes"}, "active"),
        ({"firstName": "Changed", "active": None}, "active"),
        ({"firstName": "Changed", "colour": "blue"}, "colour"),
        ({"firstName": "Changed", "email": "nope"}, "email"),
        ({"firstName": "Changed", "email": None}, "email"),
        ({"firstName": "Changed", "userName": None}, "userName"),
        ({"firstName": "Changed", "password": "short"}, "password"),
        ({"firstName": "Changed", "roleId": "UNKNOWN_ROLE"}, "roleId"),
        ({"firstName": "Changed", "groups": ["UNKNOWN"]}, "groups"),
        ({"firstName": "Changed", "groups": None}, "groups"),
    ],
    ids=[
        "malformed-json",
        "active-yes",
        "active-null",
        "unknown-field",
        "invalid-email",
        "null-email",
        "null-username",
        "short-password",
        "unknown-role-id",
        "unknown-group-id",
        "null-groups",
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(
    http: TestClient, h: dict[str, str], body: Any, mentions: str
) -> None:
    group = _group(http, h)
    user = _create(http, h, firstName="Original", groups=[group["_id"]])
    if isinstance(body, dict):
        if body.get("roleId") == "UNKNOWN_ROLE":
            body = {**body, "roleId": str(uuid.uuid4())}
        if body.get("groups") == ["UNKNOWN"]:
            body = {**body, "groups": [str(uuid.uuid4())]}
    url = f"{USERS}/{user['_id']}"
    if isinstance(body, str):
        r = http.patch(url, content=body, headers={**h, "Content-Type": "application/json"})
    else:
        r = http.patch(url, json=body, headers=h)
    message = v1_error(r, 400)
    assert mentions in message, message
    assert _get(http, h, user["_id"]) == user


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "5f3e1a2b3c4d5e6f7a8b9c0d", "1"])
def test_ids_that_are_not_uuids_are_not_found(
    http: TestClient, h: dict[str, str], bad_id: str
) -> None:
    v1_error(http.get(f"{USERS}/{bad_id}", headers=h), 404)
    v1_error(http.patch(f"{USERS}/{bad_id}", json={"firstName": "X"}, headers=h), 404)
    v1_error(http.delete(f"{USERS}/{bad_id}", headers=h), 404)
    v1_error(http.patch(f"/api/users/{bad_id}", json={"password": PASSWORD}, headers=h), 404)
    v1_error(http.get(f"{GROUPS}/{bad_id}", headers=h), 404)
    v1_error(http.delete(f"{GROUPS}/{bad_id}", headers=h), 404)


@pytest.mark.parametrize(
    ("path", "params", "mentions"),
    [
        (USERS, {"expand": "groups,manager"}, "expand"),
        (USERS, {"expand": "users"}, "expand"),
        (GROUPS, {"expand": "groups"}, "expand"),
        (USERS, {"skip": -1}, "skip"),
        (GROUPS, {"skip": -1}, "skip"),
        (USERS, {"limit": -5}, "limit"),
        (USERS, {"skip": "ten"}, "skip"),
        (USERS, {"active": "maybe"}, "active"),
        (USERS, {"lastLoginBefore": "last tuesday"}, "lastLoginBefore"),
    ],
    ids=[
        "unknown-expand",
        "users-expand-on-users",
        "unknown-group-expand",
        "negative-skip",
        "negative-group-skip",
        "negative-limit",
        "word-skip",
        "active-maybe",
        "bad-date",
    ],
)
def test_bad_query_parameters(
    http: TestClient, h: dict[str, str], path: str, params: dict[str, Any], mentions: str
) -> None:
    message = v1_error(http.get(path, params=params, headers=h), 400)
    assert mentions in message, message


def test_bad_group_input_writes_nothing(http: TestClient, h: dict[str, str]) -> None:
    existing = _group(http, h, "Existing")
    for body, status in [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": 5}, 400),
        ({}, 400),
        ({"name": "existing"}, 409),
    ]:
        v1_error(http.post(GROUPS, json=body, headers=h), status)
    for items, status in [
        ([{"name": "New One"}, {"name": ""}], 400),
        ([{"name": "New One"}, {"name": "new one"}], 409),
    ]:
        v1_error(http.post(f"{GROUPS}/bulk", json=items, headers=h), status)
    assert [g["_id"] for g in http.get(GROUPS, headers=h).json()] == [existing["_id"]]


# ---- the CLI makes the admin ---------------------------------------------------------------------


@pytest.fixture
def cli_store(backend: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with database_url(backend, tmp_path) as url:
        yield url, tmp_path / "data"


def _cli(url: str, data_dir: Path, args: list[str], stdin: str) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            cli_app,
            args,
            input=stdin,
            env={"ROSTERD_DATABASE_URL": url, "ROSTERD_DATA_DIR": str(data_dir), "NO_COLOR": "1"},
        )
    finally:
        get_settings.cache_clear()


def test_cli_creates_an_admin_who_can_log_in(cli_store: tuple[str, Path]) -> None:
    url, data_dir = cli_store
    assert _cli(url, data_dir, ["migrate"], "").exit_code == 0
    username = "ops-admin"
    args = ["admins", "create", "--tenant", "default", "--username", username]
    result = _cli(url, data_dir, args, "cli password 123\n")
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"created admin {username} in default" in result.stdout
    assert "cli password 123" not in result.output

    # A second one with the same name, or a short password, fails cleanly.
    result = _cli(url, data_dir, args, "another password\n")
    assert result.exit_code == 1 and "already exists" in result.output
    result = _cli(url, data_dir, [*args[:-1], "other"], "short\n")
    assert result.exit_code == 1 and "password" in result.output

    runtime = open_runtime(Settings(database_url=url, data_dir=data_dir))
    try:
        with runtime.db.reader() as session:
            names = session.scalars(select(AdminUser.username)).all()
            # The first start made the console's first admin; the CLI made only this one.
            assert sorted(names) == sorted([BOOTSTRAP_ADMIN, username])
        with TestClient(create_app(runtime)) as client:
            v1_error(_login(client, username, "another password"), 401)
            r = _login(client, username, "cli password 123")
            assert r.status_code == 200, r.text
            r = client.get("/api/users/loggedin", headers=_bearer(r.json()["access_token"]))
            assert r.status_code == 200 and r.json()["userName"] == username
    finally:
        runtime.close()
