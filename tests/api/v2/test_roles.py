"""/integration/v2/roles: the seeded system roles, the create/update/delete extensions, user
counts, errors, scopes and tenant isolation.

Every tenant starts with the four system roles Admin, Manager, User and Viewer.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.repositories import audit as audit_repo
from tests.factories import V2, TenantHandle

ROLES = f"{V2}/roles"
USERS = f"{V2}/users"
SYSTEM_ROLES = ("Admin", "Manager", "User", "Viewer")


# ---- helpers -------------------------------------------------------------------------------


def _error(r: Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert the v2 error envelope with ``status``; with ``field``, that a detail names it."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    for detail in err["details"]:
        assert set(detail) == {"field", "message"}, detail
        assert isinstance(detail["field"], str) and isinstance(detail["message"], str)
    if field is not None:
        assert field in [d["field"] for d in err["details"]], err
    return dict(err)


def _list(http: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = http.get(ROLES, params=params, headers=tenant.headers("role:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _all(http: TestClient, tenant: TenantHandle) -> dict[str, dict[str, Any]]:
    """Every role of the tenant by name."""
    page = _list(http, tenant, limit=100)
    assert page["totalCount"] == len(page["items"])
    return {r["name"]: r for r in page["items"]}


def _get(http: TestClient, tenant: TenantHandle, role_id: str) -> dict[str, Any]:
    r = http.get(f"{ROLES}/{role_id}", headers=tenant.headers("role:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _raw(
    http: TestClient, tenant: TenantHandle, method: str, url: str, body: Any | bytes
) -> Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.request(
        method,
        url,
        content=content,
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )


def _actions(tenant: TenantHandle, role_id: str) -> list[str]:
    with tenant.runtime.db.reader() as session:
        return [e.action for e in audit_repo.for_resource(session, tenant.id, "role", role_id)]


def _name() -> str:
    return f"role-{secrets.token_hex(4)}"


# ---- list and get --------------------------------------------------------------------------


def test_list_has_the_system_roles(http: TestClient, tenant: TenantHandle) -> None:
    page = _list(http, tenant)
    assert page["totalCount"] == 4
    assert (page["offset"], page["limit"]) == (0, 25)
    roles = {r["name"]: r for r in page["items"]}
    assert set(roles) == set(SYSTEM_ROLES)
    for role in roles.values():
        uuid.UUID(role["id"])
        assert role["isSystem"] is True
        assert role["userCount"] == 0
        assert isinstance(role["permissions"], list) and role["permissions"]
        assert all(isinstance(p, str) and p for p in role["permissions"])
        assert role["description"]
        assert role["createdAt"].endswith("Z")
        datetime.fromisoformat(role["createdAt"])
    assert len({r["id"] for r in roles.values()}) == 4


def test_each_tenant_has_its_own_system_roles(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine, theirs = _all(http, tenant), _all(http, other_tenant)
    assert set(mine) == set(theirs) == set(SYSTEM_ROLES)
    assert not {r["id"] for r in mine.values()} & {r["id"] for r in theirs.values()}


def test_get_role_equals_its_list_entry(http: TestClient, tenant: TenantHandle) -> None:
    for role in _all(http, tenant).values():
        assert _get(http, tenant, role["id"]) == role
    custom = tenant.role(description="custom", permissions=["reports:read"])
    assert _get(http, tenant, custom["id"]) == custom == _all(http, tenant)[custom["name"]]


def test_user_count_reflects_assigned_users(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    custom = tenant.role()
    viewer = tenant.role_named("Viewer")
    for _ in range(2):
        tenant.user(roleId=custom["id"])
    moved = tenant.user(roleId=viewer["id"])
    tenant.user()  # no role
    # a user of another tenant with that tenant's Viewer role does not count here
    other_tenant.user(roleId=other_tenant.role_named("Viewer")["id"])

    counts = {name: r["userCount"] for name, r in _all(http, tenant).items()}
    assert counts == {"Admin": 0, "Manager": 0, "User": 0, "Viewer": 1, custom["name"]: 2}
    assert _get(http, tenant, custom["id"])["userCount"] == 2
    assert _get(http, tenant, viewer["id"])["userCount"] == 1

    r = http.patch(
        f"{USERS}/{moved['id']}", json={"roleId": custom["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert _get(http, tenant, custom["id"])["userCount"] == 3
    assert _get(http, tenant, viewer["id"])["userCount"] == 0

    # a deactivated user still holds the role; a deleted one does not
    r = http.patch(f"{USERS}/{moved['id']}", json={"isActive": False}, headers=tenant.headers())
    assert r.status_code == 200
    assert _get(http, tenant, custom["id"])["userCount"] == 3
    assert http.delete(f"{USERS}/{moved['id']}", headers=tenant.headers()).status_code == 204
    assert _get(http, tenant, custom["id"])["userCount"] == 2
    assert _all(http, other_tenant)["Viewer"]["userCount"] == 1


def test_list_pages(http: TestClient, tenant: TenantHandle) -> None:
    for _ in range(3):
        tenant.role()
    everything = {r["id"] for r in _all(http, tenant).values()}
    assert len(everything) == 7
    pages = [_list(http, tenant, offset=o, limit=3) for o in (0, 3, 6)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    assert all(p["totalCount"] == 7 for p in pages)
    assert [(p["offset"], p["limit"]) for p in pages] == [(0, 3), (3, 3), (6, 3)]
    seen = [r["id"] for p in pages for r in p["items"]]
    assert len(seen) == 7 and set(seen) == everything
    by_page = _list(http, tenant, page=2, pageSize=3)
    assert [r["id"] for r in by_page["items"]] == [r["id"] for r in pages[1]["items"]]
    assert (by_page["offset"], by_page["limit"]) == (3, 3)
    assert (by_page["page"], by_page["pageSize"], by_page["totalCount"]) == (2, 3, 7)
    assert "page" not in pages[1] and "pageSize" not in pages[1]
    beyond = _list(http, tenant, offset=50)
    assert beyond["items"] == [] and beyond["totalCount"] == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "zero"}, "offset"),
        ({"page": 0}, "page"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 1, "offset": 0}, "offset"),
    ],
)
def test_list_bad_paging_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    r = http.get(ROLES, params=params, headers=tenant.headers())
    assert _error(r, 400, field)["code"] == "invalid_request"


def test_get_unknown_role_is_404(http: TestClient, tenant: TenantHandle) -> None:
    assert _error(http.get(f"{ROLES}/{uuid.uuid4()}", headers=tenant.headers()), 404)["code"] == (
        "not_found"
    )


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "Admin"])
def test_malformed_role_id_in_path_is_400(
    http: TestClient, tenant: TenantHandle, bad_id: str
) -> None:
    role = tenant.role()
    url = f"{ROLES}/{bad_id}"
    h = tenant.headers()
    for r in (
        http.get(url, headers=h),
        http.patch(url, json={"description": "x"}, headers=h),
        http.delete(url, headers=h),
    ):
        _error(r, 400, "roleId")
    assert _get(http, tenant, role["id"]) == role
    assert len(_all(http, tenant)) == 5


# ---- create --------------------------------------------------------------------------------


def test_create_role(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        ROLES,
        json={
            "name": "Sales Lead",
            "description": "Leads a sales pod",
            "permissions": ["users:read", "groups:write"],
        },
        headers=tenant.headers("role:write"),
    )
    assert r.status_code == 201, r.text
    role = r.json()
    uuid.UUID(role["id"])
    assert role["name"] == "Sales Lead" and role["description"] == "Leads a sales pod"
    assert role["permissions"] == ["users:read", "groups:write"]
    assert role["isSystem"] is False and role["userCount"] == 0
    assert role["createdAt"].endswith("Z")
    assert _get(http, tenant, role["id"]) == role
    assert _all(http, tenant)["Sales Lead"] == role
    assert _actions(tenant, role["id"]) == ["role.created"]


def test_create_minimal_role(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(ROLES, json={"name": "  Bare  "}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    role = r.json()
    assert role["name"] == "Bare" and role["permissions"] == [] and "description" not in role
    assert role["isSystem"] is False


def test_create_drops_duplicate_permissions_keeping_order(
    http: TestClient, tenant: TenantHandle
) -> None:
    role = tenant.role(permissions=["b", "a", "b", "c", "a"])
    assert role["permissions"] == ["b", "a", "c"]
    assert _get(http, tenant, role["id"])["permissions"] == ["b", "a", "c"]


def test_create_accepts_the_longest_fields(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role(name="n" * 255, description="d" * 2000, permissions=["p" * 100])
    fetched = _get(http, tenant, role["id"])
    assert (fetched["name"], fetched["description"]) == ("n" * 255, "d" * 2000)
    assert fetched["permissions"] == ["p" * 100]


@pytest.mark.parametrize("dup", ["Field Sales", "field sales", " FIELD SALES "])
def test_create_duplicate_name_is_409(http: TestClient, tenant: TenantHandle, dup: str) -> None:
    tenant.role(name="Field Sales")
    before = _all(http, tenant)
    err = _error(http.post(ROLES, json={"name": dup}, headers=tenant.headers()), 409)
    assert err["code"] == "conflict"
    assert _all(http, tenant) == before


@pytest.mark.parametrize("name", ["Admin", "viewer", "MANAGER", "user"])
def test_create_with_a_system_role_name_is_409(
    http: TestClient, tenant: TenantHandle, name: str
) -> None:
    before = _all(http, tenant)
    _error(http.post(ROLES, json={"name": name}, headers=tenant.headers()), 409)
    assert _all(http, tenant) == before


def test_same_name_in_two_tenants(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.role(name="Analyst")
    theirs = other_tenant.role(name="Analyst")
    assert mine["id"] != theirs["id"]
    assert _all(http, tenant)["Analyst"] == mine
    assert _all(http, other_tenant)["Analyst"] == theirs


def _valid(**fields: Any) -> dict[str, Any]:
    return {"name": _name(), **fields}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"permissions": ["x"]}, "name"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 7}, "name"),
        ({"name": "a\x00b"}, "name"),
        (_valid(description="d" * 2001), "description"),
        (_valid(description=1), "description"),
        (_valid(permissions="users:read"), "permissions"),
        (_valid(permissions=None), "permissions"),
        (_valid(permissions=[1]), "permissions.0"),
        (_valid(permissions=[""]), "permissions.0"),
        (_valid(permissions=["ok", "p" * 101]), "permissions.1"),
        (_valid(permissions=[f"p{i}" for i in range(201)]), "permissions"),
        (_valid(isSystem=True), "isSystem"),
        (_valid(userCount=5), "userCount"),
        (_valid(id=str(uuid.uuid4())), "id"),
        (_valid(unknownField="x"), "unknownField"),
        ([], "body"),
        ("Admin", "body"),
        (None, "body"),
        (b'{"name": "x"', "body"),
        (b"", "body"),
    ],
)
def test_create_bad_input_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    before = _all(http, tenant)
    err = _error(_raw(http, tenant, "POST", ROLES, body), 400, field)
    assert err["code"] == "invalid_request"
    assert _all(http, tenant) == before


# ---- update --------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role(name="Before", description="Old", permissions=["a", "b"])
    url = f"{ROLES}/{role['id']}"

    r = http.patch(url, json={"description": "New"}, headers=tenant.headers("role:write"))
    assert r.status_code == 200, r.text
    assert r.json() == {**role, "description": "New"}

    r = http.patch(url, json={"permissions": ["c", "c", "a"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json() == {**role, "description": "New", "permissions": ["c", "a"]}

    r = http.patch(url, json={"name": "After"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    after = {**role, "name": "After", "description": "New", "permissions": ["c", "a"]}
    assert r.json() == after
    assert _get(http, tenant, role["id"]) == after
    assert _actions(tenant, role["id"]) == ["role.created"] + ["role.updated"] * 3


def test_patch_clears_description_and_permissions(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role(description="temp", permissions=["a"])
    r = http.patch(
        f"{ROLES}/{role['id']}",
        json={"description": None, "permissions": []},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    fetched = _get(http, tenant, role["id"])
    assert "description" not in fetched and fetched["permissions"] == []
    assert fetched["name"] == role["name"]


def test_patch_empty_body_changes_nothing(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role(description="d", permissions=["x"])
    r = http.patch(f"{ROLES}/{role['id']}", json={}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json() == role == _get(http, tenant, role["id"])


def test_patch_keeps_the_user_count(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role()
    tenant.user(roleId=role["id"])
    r = http.patch(f"{ROLES}/{role['id']}", json={"description": "x"}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["userCount"] == 1


def test_patch_rename_to_a_taken_name_is_409(http: TestClient, tenant: TenantHandle) -> None:
    tenant.role(name="Taken")
    role = tenant.role(name="Mine")
    for name in ("Taken", "TAKEN", "admin"):
        _error(
            http.patch(f"{ROLES}/{role['id']}", json={"name": name}, headers=tenant.headers()), 409
        )
    assert _get(http, tenant, role["id"]) == role
    r = http.patch(f"{ROLES}/{role['id']}", json={"name": "MINE"}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["name"] == "MINE"


@pytest.mark.parametrize("name", SYSTEM_ROLES)
def test_system_roles_cannot_be_changed(http: TestClient, tenant: TenantHandle, name: str) -> None:
    role = tenant.role_named(name)
    url = f"{ROLES}/{role['id']}"
    for body in (
        {"name": f"{name} renamed"},
        {"description": "changed"},
        {"permissions": []},
        {"permissions": ["everything"]},
        {},
    ):
        err = _error(http.patch(url, json=body, headers=tenant.headers()), 403)
        assert err["code"] == "forbidden"
    assert _get(http, tenant, role["id"]) == role
    assert _actions(tenant, role["id"]) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"permissions": None}, "permissions"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 3}, "name"),
        ({"description": "d" * 2001}, "description"),
        ({"permissions": "a"}, "permissions"),
        ({"permissions": [None]}, "permissions.0"),
        ({"isSystem": True}, "isSystem"),
        ({"unknownField": 1}, "unknownField"),
        ({"description": "ok", "bogus": 1}, "bogus"),
        ([], "body"),
        ("x", "body"),
        (b'{"name": ', "body"),
    ],
)
def test_patch_bad_input_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    role = tenant.role(description="keep", permissions=["keep"])
    err = _error(_raw(http, tenant, "PATCH", f"{ROLES}/{role['id']}", body), 400, field)
    assert err["code"] == "invalid_request"
    assert _get(http, tenant, role["id"]) == role
    assert _actions(tenant, role["id"]) == ["role.created"]


def test_patch_unknown_role_is_404(http: TestClient, tenant: TenantHandle) -> None:
    before = _all(http, tenant)
    r = http.patch(f"{ROLES}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.headers())
    _error(r, 404)
    assert _all(http, tenant) == before


# ---- delete --------------------------------------------------------------------------------


def test_delete_role(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role()
    r = http.delete(f"{ROLES}/{role['id']}", headers=tenant.headers("role:write"))
    assert r.status_code == 204 and r.content == b""
    _error(http.get(f"{ROLES}/{role['id']}", headers=tenant.headers()), 404)
    assert set(_all(http, tenant)) == set(SYSTEM_ROLES)
    _error(http.delete(f"{ROLES}/{role['id']}", headers=tenant.headers()), 404)
    assert _actions(tenant, role["id"]) == ["role.created", "role.deleted"]
    # the name is free again
    assert tenant.role(name=role["name"])["id"] != role["id"]


@pytest.mark.parametrize("name", SYSTEM_ROLES)
def test_system_roles_cannot_be_deleted(http: TestClient, tenant: TenantHandle, name: str) -> None:
    role = tenant.role_named(name)
    err = _error(http.delete(f"{ROLES}/{role['id']}", headers=tenant.headers()), 403)
    assert err["code"] == "forbidden"
    assert _get(http, tenant, role["id"]) == role


def test_delete_assigned_role_is_409_until_unassigned(
    http: TestClient, tenant: TenantHandle
) -> None:
    role = tenant.role()
    user = tenant.user(roleId=role["id"])
    url = f"{ROLES}/{role['id']}"
    assert _error(http.delete(url, headers=tenant.headers()), 409)["code"] == "conflict"
    assert _get(http, tenant, role["id"])["userCount"] == 1
    r = http.get(f"{USERS}/{user['id']}", headers=tenant.headers())
    assert r.json()["roleId"] == role["id"]

    # still assigned while the user is merely deactivated
    r = http.patch(f"{USERS}/{user['id']}", json={"isActive": False}, headers=tenant.headers())
    assert r.status_code == 200
    _error(http.delete(url, headers=tenant.headers()), 409)

    viewer = tenant.role_named("Viewer")
    r = http.patch(f"{USERS}/{user['id']}", json={"roleId": viewer["id"]}, headers=tenant.headers())
    assert r.status_code == 200
    assert http.delete(url, headers=tenant.headers()).status_code == 204
    r = http.get(f"{USERS}/{user['id']}", headers=tenant.headers())
    assert r.status_code == 200 and r.json()["roleId"] == viewer["id"]


def test_delete_unknown_role_is_404(http: TestClient, tenant: TenantHandle) -> None:
    before = _all(http, tenant)
    _error(http.delete(f"{ROLES}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert _all(http, tenant) == before


# ---- authentication and scopes -------------------------------------------------------------


def _operations(role_id: str) -> list[tuple[str, str, dict[str, Any], str]]:
    url = f"{ROLES}/{role_id}"
    return [
        ("GET", ROLES, {}, "role:read"),
        ("POST", ROLES, {"json": {"name": _name()}}, "role:write"),
        ("GET", url, {}, "role:read"),
        ("PATCH", url, {"json": {"name": "hacked"}}, "role:write"),
        ("DELETE", url, {}, "role:write"),
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer garbage", "Bearer a.b.c"])
def test_401_without_a_valid_token(
    http: TestClient, tenant: TenantHandle, authorization: str | None
) -> None:
    role = tenant.role()
    before = _all(http, tenant)
    headers = {"Authorization": authorization} if authorization else {}
    for method, url, kwargs, _ in _operations(role["id"]):
        r = http.request(method, url, headers=headers, **kwargs)
        assert _error(r, 401)["code"] == "unauthorized", (method, url)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert _all(http, tenant) == before


def test_403_when_the_token_lacks_the_scope(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role()
    before = _all(http, tenant)
    for method, url, kwargs, needed in _operations(role["id"]):
        others = [s for s in ALL_SCOPES if s not in (needed, "admin")]
        for headers in (tenant.headers(*others), tenant.headers("user:read", "group:read")):
            err = _error(http.request(method, url, headers=headers, **kwargs), 403)
            assert err["code"] == "insufficient_scope" and needed in err["message"]
    assert _all(http, tenant) == before


def test_role_read_cannot_write_and_role_write_cannot_read(
    http: TestClient, tenant: TenantHandle
) -> None:
    role = tenant.role()
    read, write = tenant.headers("role:read"), tenant.headers("role:write")
    _error(http.post(ROLES, json={"name": _name()}, headers=read), 403)
    _error(http.patch(f"{ROLES}/{role['id']}", json={"name": "x"}, headers=read), 403)
    _error(http.delete(f"{ROLES}/{role['id']}", headers=read), 403)
    _error(http.get(ROLES, headers=write), 403)
    _error(http.get(f"{ROLES}/{role['id']}", headers=write), 403)
    assert _get(http, tenant, role["id"]) == role
    assert len(_all(http, tenant)) == 5


def test_exact_scopes_suffice(http: TestClient, tenant: TenantHandle) -> None:
    read, write = tenant.headers("role:read"), tenant.headers("role:write")
    r = http.post(ROLES, json={"name": _name()}, headers=write)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert http.get(ROLES, headers=read).status_code == 200
    assert http.get(f"{ROLES}/{rid}", headers=read).status_code == 200
    assert http.patch(f"{ROLES}/{rid}", json={"description": "x"}, headers=write).status_code == 200
    assert http.get(ROLES, headers=tenant.headers("admin")).status_code == 200
    assert http.delete(f"{ROLES}/{rid}", headers=tenant.headers("admin")).status_code == 204


# ---- tenant isolation ----------------------------------------------------------------------


def test_list_never_shows_another_tenants_roles(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = other_tenant.role(name="Their Role")
    mine = _all(http, tenant)
    assert set(mine) == set(SYSTEM_ROLES)
    assert theirs["id"] not in {r["id"] for r in mine.values()}


def test_another_tenants_roles_are_404_and_untouched(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    custom = other_tenant.role(description="theirs", permissions=["p"])
    their_admin = other_tenant.role_named("Admin")
    h = tenant.headers()
    for role in (custom, their_admin):
        url = f"{ROLES}/{role['id']}"
        _error(http.get(url, headers=h), 404)
        _error(http.patch(url, json={"name": "stolen"}, headers=h), 404)
        _error(http.delete(url, headers=h), 404)
        assert _get(http, other_tenant, role["id"]) == role


def test_another_tenants_role_cannot_be_assigned(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = other_tenant.role()
    r = http.post(
        USERS,
        json={
            "email": f"x-{secrets.token_hex(4)}@example.com",
            "firstName": "X",
            "lastName": "Y",
            "roleId": theirs["id"],
        },
        headers=tenant.headers(),
    )
    _error(r, 400, "roleId")
    assert _get(http, other_tenant, theirs["id"])["userCount"] == 0
