"""/integration/v2/groups: listing, hierarchy, members, errors, scopes and tenant isolation.

Each test has a tenant of its own, so listings only ever see the groups the test made.
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

GROUPS = f"{V2}/groups"
USERS = f"{V2}/users"


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
    r = http.get(GROUPS, params=params, headers=tenant.headers("group:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _all(http: TestClient, tenant: TenantHandle) -> list[dict[str, Any]]:
    page = _list(http, tenant, limit=100)
    assert page["totalCount"] == len(page["items"])
    return list(page["items"])


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def _get(http: TestClient, tenant: TenantHandle, group_id: str) -> dict[str, Any]:
    r = http.get(f"{GROUPS}/{group_id}", headers=tenant.headers("group:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _members(http: TestClient, tenant: TenantHandle, group_id: str, **params: Any) -> Any:
    r = http.get(
        f"{GROUPS}/{group_id}/members", params=params, headers=tenant.headers("group:read")
    )
    assert r.status_code == 200, r.text
    return r.json()


def _member_ids(http: TestClient, tenant: TenantHandle, group_id: str) -> set[str]:
    page = _members(http, tenant, group_id, limit=100)
    assert page["totalCount"] == len(page["items"])
    return {u["id"] for u in page["items"]}


def _add(http: TestClient, tenant: TenantHandle, group_id: str, user_id: str) -> dict[str, Any]:
    r = http.post(
        f"{GROUPS}/{group_id}/members",
        json={"userId": user_id},
        headers=tenant.headers("group:write"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _raw(
    http: TestClient, tenant: TenantHandle, method: str, url: str, body: Any | bytes
) -> Response:
    """Send ``body`` as JSON text (bytes as they are), whatever its shape."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.request(
        method,
        url,
        content=content,
        headers={**tenant.headers(), "Content-Type": "application/json"},
    )


def _actions(tenant: TenantHandle, group_id: str) -> list[str]:
    with tenant.runtime.db.reader() as session:
        return [e.action for e in audit_repo.for_resource(session, tenant.id, "group", group_id)]


def _name() -> str:
    return f"group-{secrets.token_hex(4)}"


# ---- list ----------------------------------------------------------------------------------


def test_list_of_an_empty_tenant(http: TestClient, tenant: TenantHandle) -> None:
    assert _list(http, tenant) == {"items": [], "totalCount": 0, "offset": 0, "limit": 25}


def test_list_returns_every_group_with_its_fields(http: TestClient, tenant: TenantHandle) -> None:
    parent = tenant.group(name="Sales", description="All of sales")
    child = tenant.group(name="Sales EMEA", parentId=parent["id"])
    user = tenant.user()
    _add(http, tenant, child["id"], user["id"])
    page = _list(http, tenant)
    assert page["totalCount"] == 2 and (page["offset"], page["limit"]) == (0, 25)
    by_id = {g["id"]: g for g in page["items"]}
    assert set(by_id) == {parent["id"], child["id"]}
    assert by_id[parent["id"]] == parent
    assert by_id[child["id"]]["parentId"] == parent["id"]
    assert by_id[child["id"]]["memberCount"] == 1
    assert by_id[parent["id"]]["memberCount"] == 0


def test_list_query_is_a_case_insensitive_partial_match(
    http: TestClient, tenant: TenantHandle
) -> None:
    emea = tenant.group(name="Sales EMEA")
    us = tenant.group(name="us-sales")
    tenant.group(name="Marketing")
    assert set(_ids(_list(http, tenant, query="SALES"))) == {emea["id"], us["id"]}
    assert _list(http, tenant, query="SALES")["totalCount"] == 2
    assert _ids(_list(http, tenant, query="les em")) == [emea["id"]]
    assert _ids(_list(http, tenant, query="s-s")) == [us["id"]]
    assert _list(http, tenant, query="nothing like it") == {
        "items": [],
        "totalCount": 0,
        "offset": 0,
        "limit": 25,
    }
    # an empty query is no filter
    assert _list(http, tenant, query="")["totalCount"] == 3


def test_list_query_treats_like_wildcards_literally(http: TestClient, tenant: TenantHandle) -> None:
    pct = tenant.group(name="100% Club")
    under = tenant.group(name="team_a")
    tenant.group(name="teamXa")
    tenant.group(name="Plain")
    assert _ids(_list(http, tenant, query="%")) == [pct["id"]]
    assert _ids(_list(http, tenant, query="_")) == [under["id"]]
    assert _ids(_list(http, tenant, query="m_a")) == [under["id"]]


def test_list_filters_by_parent_id(http: TestClient, tenant: TenantHandle) -> None:
    root = tenant.group()
    a = tenant.group(parentId=root["id"])
    b = tenant.group(parentId=root["id"])
    tenant.group(parentId=a["id"])  # a grandchild is not a direct child
    tenant.group()
    page = _list(http, tenant, parentId=root["id"])
    assert set(_ids(page)) == {a["id"], b["id"]} and page["totalCount"] == 2
    assert _list(http, tenant, parentId=str(uuid.uuid4()))["totalCount"] == 0
    # combined with a query
    b_named = http.patch(
        f"{GROUPS}/{b['id']}", json={"name": "findme child"}, headers=tenant.headers()
    )
    assert b_named.status_code == 200
    assert _ids(_list(http, tenant, parentId=root["id"], query="FINDME")) == [b["id"]]


def test_list_paging_with_offset_and_limit(http: TestClient, tenant: TenantHandle) -> None:
    made = {tenant.group()["id"] for _ in range(5)}
    pages = [_list(http, tenant, offset=offset, limit=2) for offset in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    for offset, page in zip((0, 2, 4), pages, strict=True):
        assert page["totalCount"] == 5
        assert (page["offset"], page["limit"]) == (offset, 2)
    seen = [gid for p in pages for gid in _ids(p)]
    assert len(seen) == 5 and set(seen) == made
    # the order is stable: the same window twice is the same page
    assert _list(http, tenant, offset=2, limit=2) == pages[1]
    beyond = _list(http, tenant, offset=10, limit=2)
    assert beyond["items"] == [] and beyond["totalCount"] == 5
    empty = _list(http, tenant, limit=0)
    assert empty["items"] == [] and empty["totalCount"] == 5


def test_list_paging_with_page_and_page_size(http: TestClient, tenant: TenantHandle) -> None:
    for _ in range(5):
        tenant.group()
    by_offset = _list(http, tenant, offset=2, limit=2)
    by_page = _list(http, tenant, page=2, pageSize=2)
    assert _ids(by_page) == _ids(by_offset)
    # the envelope echoes the paging the caller used, as GET /users does
    assert set(by_page) == {"items", "totalCount", "offset", "limit", "page", "pageSize"}
    assert set(by_offset) == {"items", "totalCount", "offset", "limit"}
    assert by_page["totalCount"] == 5
    assert (by_page["page"], by_page["pageSize"]) == (2, 2)
    assert (by_page["offset"], by_page["limit"]) == (2, 2)
    last = _list(http, tenant, page=3, pageSize=2)
    assert len(last["items"]) == 1 and (last["offset"], last["page"]) == (4, 3)
    # page alone uses the default page size, pageSize alone the first page
    only_page = _list(http, tenant, page=1)
    assert (only_page["page"], only_page["pageSize"], only_page["limit"]) == (1, 25, 25)
    only_size = _list(http, tenant, pageSize=3)
    assert (only_size["page"], only_size["pageSize"], only_size["offset"]) == (1, 3, 0)
    assert _ids(only_size) == _ids(_list(http, tenant, limit=3))


def test_default_limit_is_25_and_max_is_100(http: TestClient, tenant: TenantHandle) -> None:
    for _ in range(27):
        tenant.group()
    page = _list(http, tenant)
    assert len(page["items"]) == 25 and page["totalCount"] == 27
    assert len(_list(http, tenant, limit=100)["items"]) == 27


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"page": 0}, "page"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 2, "offset": 5}, "offset"),
        ({"parentId": "not-a-uuid"}, "parentId"),
        ({"parentId": "123"}, "parentId"),
        ({"query": "q" * 256}, "query"),
        ({"query": "a\x00b"}, "query"),
    ],
)
def test_list_bad_query_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    tenant.group()
    err = _error(http.get(GROUPS, params=params, headers=tenant.headers()), 400, field)
    assert err["code"] == "invalid_request"


# ---- create --------------------------------------------------------------------------------


def test_create_returns_the_group(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        GROUPS,
        json={"name": "Sales", "description": "Everyone who sells"},
        headers=tenant.headers("group:write"),
    )
    assert r.status_code == 201, r.text
    group = r.json()
    uuid.UUID(group["id"])
    assert group["name"] == "Sales" and group["description"] == "Everyone who sells"
    assert group["memberCount"] == 0
    assert "parentId" not in group
    for stamp in ("createdAt", "modifiedAt"):
        assert group[stamp].endswith("Z")
        datetime.fromisoformat(group[stamp])
    assert _get(http, tenant, group["id"]) == group
    assert _all(http, tenant) == [group]
    assert _actions(tenant, group["id"]) == ["group.created"]


def test_create_minimal_and_strips_the_name(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(GROUPS, json={"name": "  Padded  "}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["name"] == "Padded"
    assert "description" not in group and "parentId" not in group


def test_create_accepts_the_longest_name_and_description(
    http: TestClient, tenant: TenantHandle
) -> None:
    group = tenant.group(name="n" * 255, description="d" * 2000)
    fetched = _get(http, tenant, group["id"])
    assert fetched["name"] == "n" * 255 and fetched["description"] == "d" * 2000


def test_create_with_parent(http: TestClient, tenant: TenantHandle) -> None:
    parent = tenant.group()
    child = tenant.group(parentId=parent["id"])
    assert child["parentId"] == parent["id"]
    assert _get(http, tenant, child["id"])["parentId"] == parent["id"]
    grandchild = tenant.group(parentId=child["id"])
    assert _get(http, tenant, grandchild["id"])["parentId"] == child["id"]


@pytest.mark.parametrize("dup", ["Sales Team", "sales team", "SALES TEAM", "  Sales Team "])
def test_create_duplicate_name_is_409(http: TestClient, tenant: TenantHandle, dup: str) -> None:
    first = tenant.group(name="Sales Team")
    r = http.post(GROUPS, json={"name": dup}, headers=tenant.headers())
    err = _error(r, 409)
    assert err["code"] == "conflict"
    assert _all(http, tenant) == [first]


def test_same_name_in_two_tenants(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.group(name="Sales")
    theirs = other_tenant.group(name="Sales")
    assert mine["id"] != theirs["id"]
    assert _all(http, tenant) == [mine]
    assert _all(http, other_tenant) == [theirs]


def test_create_with_unknown_parent_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    foreign = other_tenant.group()
    for parent_id in (str(uuid.uuid4()), foreign["id"]):
        r = http.post(
            GROUPS, json={"name": _name(), "parentId": parent_id}, headers=tenant.headers()
        )
        _error(r, 400, "parentId")
    assert _all(http, tenant) == []
    assert _list(http, other_tenant, parentId=foreign["id"])["totalCount"] == 0


def _valid(**fields: Any) -> dict[str, Any]:
    return {"name": _name(), **fields}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"description": "no name"}, "name"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 123}, "name"),
        ({"name": ["Sales"]}, "name"),
        ({"name": "a\x00b"}, "name"),
        (_valid(description="d" * 2001), "description"),
        (_valid(description=42), "description"),
        (_valid(parentId="not-a-uuid"), "parentId"),
        (_valid(parentId=123), "parentId"),
        (_valid(parentId=str(uuid.uuid4())), "parentId"),
        (_valid(unknownField=1), "unknownField"),
        (_valid(id=str(uuid.uuid4())), "id"),
        (_valid(memberCount=3), "memberCount"),
        ([], "body"),
        ("Sales", "body"),
        (42, "body"),
        (None, "body"),
    ],
)
def test_create_bad_input_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    existing = tenant.group()
    err = _error(_raw(http, tenant, "POST", GROUPS, body), 400, field)
    assert err["code"] == "invalid_request"
    assert _all(http, tenant) == [existing]


@pytest.mark.parametrize("raw", [b'{"name": ', b"not json", b"", b"{'name': 'x'}"])
def test_create_malformed_json_is_400(http: TestClient, tenant: TenantHandle, raw: bytes) -> None:
    _error(_raw(http, tenant, "POST", GROUPS, raw), 400, "body")
    assert _all(http, tenant) == []


# ---- get -----------------------------------------------------------------------------------


def test_get_counts_members(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    other = tenant.group()
    users = [tenant.user() for _ in range(3)]
    for user in users:
        _add(http, tenant, group["id"], user["id"])
    _add(http, tenant, other["id"], users[0]["id"])
    assert _get(http, tenant, group["id"])["memberCount"] == 3
    assert _get(http, tenant, other["id"])["memberCount"] == 1
    counts = {g["id"]: g["memberCount"] for g in _all(http, tenant)}
    assert counts == {group["id"]: 3, other["id"]: 1}

    r = http.delete(f"{GROUPS}/{group['id']}/members/{users[1]['id']}", headers=tenant.headers())
    assert r.status_code == 204
    assert _get(http, tenant, group["id"])["memberCount"] == 2
    # deleting a user drops them from the count too
    assert http.delete(f"{USERS}/{users[2]['id']}", headers=tenant.headers()).status_code == 204
    assert _get(http, tenant, group["id"])["memberCount"] == 1


def test_get_unknown_group_is_404(http: TestClient, tenant: TenantHandle) -> None:
    tenant.group()
    err = _error(http.get(f"{GROUPS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert err["code"] == "not_found"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0000"])
def test_malformed_group_id_in_path_is_400(
    http: TestClient, tenant: TenantHandle, bad_id: str
) -> None:
    group = tenant.group()
    user = tenant.user()
    url = f"{GROUPS}/{bad_id}"
    h = tenant.headers()
    for r in (
        http.get(url, headers=h),
        http.patch(url, json={"name": "x"}, headers=h),
        http.delete(url, headers=h),
        http.get(f"{url}/members", headers=h),
        http.post(f"{url}/members", json={"userId": user["id"]}, headers=h),
        http.delete(f"{url}/members/{user['id']}", headers=h),
    ):
        _error(r, 400, "groupId")
    assert _all(http, tenant) == [group]


def test_malformed_user_id_in_member_path_is_400(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    _add(http, tenant, group["id"], user["id"])
    r = http.delete(f"{GROUPS}/{group['id']}/members/not-a-uuid", headers=tenant.headers())
    _error(r, 400, "userId")
    assert _member_ids(http, tenant, group["id"]) == {user["id"]}


# ---- update --------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields(http: TestClient, tenant: TenantHandle) -> None:
    parent = tenant.group()
    group = tenant.group(name="Before", description="Old text", parentId=parent["id"])

    r = http.patch(
        f"{GROUPS}/{group['id']}", json={"description": "New text"}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["description"] == "New text"
    assert (after["name"], after["parentId"]) == ("Before", parent["id"])
    assert (after["id"], after["createdAt"]) == (group["id"], group["createdAt"])
    assert after["modifiedAt"] >= group["modifiedAt"]
    assert _get(http, tenant, group["id"]) == after

    r = http.patch(f"{GROUPS}/{group['id']}", json={"name": "After"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "After"
    assert (r.json()["description"], r.json()["parentId"]) == ("New text", parent["id"])
    assert _actions(tenant, group["id"]) == ["group.created", "group.updated", "group.updated"]


def test_patch_empty_body_changes_nothing(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group(description="keep")
    r = http.patch(f"{GROUPS}/{group['id']}", json={}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json() == group
    assert _get(http, tenant, group["id"]) == group


def test_patch_description_null_clears_it(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group(description="temporary")
    r = http.patch(f"{GROUPS}/{group['id']}", json={"description": None}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert "description" not in r.json()
    assert "description" not in _get(http, tenant, group["id"])
    assert _get(http, tenant, group["id"])["name"] == group["name"]


def test_patch_moves_a_group_to_another_parent(http: TestClient, tenant: TenantHandle) -> None:
    old, new = tenant.group(), tenant.group()
    group = tenant.group(parentId=old["id"])
    r = http.patch(
        f"{GROUPS}/{group['id']}", json={"parentId": new["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert r.json()["parentId"] == new["id"]
    assert _ids(_list(http, tenant, parentId=new["id"])) == [group["id"]]
    assert _list(http, tenant, parentId=old["id"])["totalCount"] == 0


def test_patch_top_level_group_under_a_parent(http: TestClient, tenant: TenantHandle) -> None:
    parent, group = tenant.group(), tenant.group()
    r = http.patch(
        f"{GROUPS}/{group['id']}", json={"parentId": parent["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert _get(http, tenant, group["id"])["parentId"] == parent["id"]


def test_patch_parent_null_makes_the_group_top_level(
    http: TestClient, tenant: TenantHandle
) -> None:
    parent = tenant.group()
    group = tenant.group(name="Child", description="stays", parentId=parent["id"])
    r = http.patch(f"{GROUPS}/{group['id']}", json={"parentId": None}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    fetched = _get(http, tenant, group["id"])
    assert "parentId" not in fetched
    assert (fetched["name"], fetched["description"]) == ("Child", "stays")
    assert _list(http, tenant, parentId=parent["id"])["totalCount"] == 0


def test_patch_rename_to_a_taken_name_is_409(http: TestClient, tenant: TenantHandle) -> None:
    tenant.group(name="Taken")
    group = tenant.group(name="Mine")
    for name in ("Taken", "taken", " TAKEN "):
        r = http.patch(f"{GROUPS}/{group['id']}", json={"name": name}, headers=tenant.headers())
        _error(r, 409)
    assert _get(http, tenant, group["id"]) == group


def test_patch_rename_own_name_in_other_case(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group(name="Sales")
    r = http.patch(f"{GROUPS}/{group['id']}", json={"name": "SALES"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _get(http, tenant, group["id"])["name"] == "SALES"


def test_patch_self_parent_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle
) -> None:
    parent = tenant.group()
    group = tenant.group(parentId=parent["id"])
    r = http.patch(
        f"{GROUPS}/{group['id']}",
        json={"parentId": group["id"], "name": "renamed"},
        headers=tenant.headers(),
    )
    _error(r, 400, "parentId")
    assert _get(http, tenant, group["id"]) == group
    assert _actions(tenant, group["id"]) == ["group.created"]


def test_patch_deeper_cycle_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle
) -> None:
    a = tenant.group(name="A")
    b = tenant.group(name="B", parentId=a["id"])
    c = tenant.group(name="C", parentId=b["id"])
    before = {g["id"]: _get(http, tenant, g["id"]) for g in (a, b, c)}
    # A under C would close A -> B -> C -> A
    r = http.patch(
        f"{GROUPS}/{a['id']}",
        json={"parentId": c["id"], "description": "x"},
        headers=tenant.headers(),
    )
    _error(r, 400, "parentId")
    # A under B would close A -> B -> A
    r = http.patch(f"{GROUPS}/{a['id']}", json={"parentId": b["id"]}, headers=tenant.headers())
    _error(r, 400, "parentId")
    # B under C would close B -> C -> B
    r = http.patch(f"{GROUPS}/{b['id']}", json={"parentId": c["id"]}, headers=tenant.headers())
    _error(r, 400, "parentId")
    assert {g["id"]: g for g in _all(http, tenant)} == before
    # moving C somewhere harmless still works
    r = http.patch(f"{GROUPS}/{c['id']}", json={"parentId": a["id"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text


def test_patch_unknown_parent_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    group = tenant.group()
    foreign = other_tenant.group()
    for parent_id in (str(uuid.uuid4()), foreign["id"]):
        r = http.patch(
            f"{GROUPS}/{group['id']}", json={"parentId": parent_id}, headers=tenant.headers()
        )
        _error(r, 400, "parentId")
    assert _get(http, tenant, group["id"]) == group


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 42}, "name"),
        ({"name": {"first": "x"}}, "name"),
        ({"description": "d" * 2001}, "description"),
        ({"description": False}, "description"),
        ({"parentId": "not-a-uuid"}, "parentId"),
        ({"parentId": 7}, "parentId"),
        ({"unknownField": "x"}, "unknownField"),
        ({"name": "ok", "memberCount": 9}, "memberCount"),
        ({"id": str(uuid.uuid4())}, "id"),
        ([], "body"),
        ("x", "body"),
        (None, "body"),
        (b'{"name": "x",', "body"),
        (b"", "body"),
    ],
)
def test_patch_bad_input_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    parent = tenant.group()
    group = tenant.group(name="Original", description="Text", parentId=parent["id"])
    err = _error(_raw(http, tenant, "PATCH", f"{GROUPS}/{group['id']}", body), 400, field)
    assert err["code"] == "invalid_request"
    assert _get(http, tenant, group["id"]) == group
    assert _actions(tenant, group["id"]) == ["group.created"]


def test_patch_unknown_group_is_404(http: TestClient, tenant: TenantHandle) -> None:
    r = http.patch(f"{GROUPS}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.headers())
    _error(r, 404)
    assert _all(http, tenant) == []


# ---- delete --------------------------------------------------------------------------------


def test_delete_group(http: TestClient, tenant: TenantHandle) -> None:
    keep = tenant.group()
    group = tenant.group()
    r = http.delete(f"{GROUPS}/{group['id']}", headers=tenant.headers("group:write"))
    assert r.status_code == 204 and r.content == b""
    _error(http.get(f"{GROUPS}/{group['id']}", headers=tenant.headers()), 404)
    _error(http.get(f"{GROUPS}/{group['id']}/members", headers=tenant.headers()), 404)
    assert _all(http, tenant) == [keep]
    _error(http.delete(f"{GROUPS}/{group['id']}", headers=tenant.headers()), 404)
    assert _actions(tenant, group["id"]) == ["group.created", "group.deleted"]
    # the name is free again
    assert tenant.group(name=group["name"])["id"] != group["id"]


def test_delete_moves_children_up_to_the_parent(http: TestClient, tenant: TenantHandle) -> None:
    root = tenant.group()
    middle = tenant.group(parentId=root["id"])
    leaf1 = tenant.group(parentId=middle["id"])
    leaf2 = tenant.group(parentId=middle["id"])
    grandleaf = tenant.group(parentId=leaf1["id"])
    assert http.delete(f"{GROUPS}/{middle['id']}", headers=tenant.headers()).status_code == 204
    assert _get(http, tenant, leaf1["id"])["parentId"] == root["id"]
    assert _get(http, tenant, leaf2["id"])["parentId"] == root["id"]
    assert _get(http, tenant, grandleaf["id"])["parentId"] == leaf1["id"]
    assert set(_ids(_list(http, tenant, parentId=root["id"]))) == {leaf1["id"], leaf2["id"]}


def test_delete_top_level_group_makes_children_top_level(
    http: TestClient, tenant: TenantHandle
) -> None:
    root = tenant.group()
    child = tenant.group(parentId=root["id"])
    assert http.delete(f"{GROUPS}/{root['id']}", headers=tenant.headers()).status_code == 204
    assert "parentId" not in _get(http, tenant, child["id"])
    # and the child can be changed afterwards (its row version moved on cleanly)
    r = http.patch(f"{GROUPS}/{child['id']}", json={"name": "orphan"}, headers=tenant.headers())
    assert r.status_code == 200, r.text


def test_delete_removes_memberships_but_not_users(http: TestClient, tenant: TenantHandle) -> None:
    group, other = tenant.group(), tenant.group()
    user = tenant.user()
    _add(http, tenant, group["id"], user["id"])
    _add(http, tenant, other["id"], user["id"])
    assert http.delete(f"{GROUPS}/{group['id']}", headers=tenant.headers()).status_code == 204
    r = http.get(f"{USERS}/{user['id']}", headers=tenant.headers())
    assert r.status_code == 200 and r.json() == user
    r = http.get(f"{USERS}/{user['id']}/groups", headers=tenant.headers())
    assert r.status_code == 200 and [g["id"] for g in r.json()["items"]] == [other["id"]]
    assert _member_ids(http, tenant, other["id"]) == {user["id"]}
    r = http.get(USERS, params={"groupId": group["id"]}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["totalCount"] == 0


def test_delete_unknown_group_is_404(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    _error(http.delete(f"{GROUPS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert _all(http, tenant) == [group]


# ---- members -------------------------------------------------------------------------------


def test_add_member_returns_the_membership(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    r = http.post(
        f"{GROUPS}/{group['id']}/members",
        json={"userId": user["id"]},
        headers=tenant.headers("group:write"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"groupId", "userId", "addedAt"}
    assert (body["groupId"], body["userId"]) == (group["id"], user["id"])
    assert body["addedAt"].endswith("Z")
    datetime.fromisoformat(body["addedAt"])
    page = _members(http, tenant, group["id"])
    assert page["totalCount"] == 1
    assert page["items"] == [user]
    assert _get(http, tenant, group["id"])["memberCount"] == 1


def test_add_member_twice_is_409(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    _add(http, tenant, group["id"], user["id"])
    r = http.post(
        f"{GROUPS}/{group['id']}/members", json={"userId": user["id"]}, headers=tenant.headers()
    )
    assert _error(r, 409)["code"] == "conflict"
    assert _member_ids(http, tenant, group["id"]) == {user["id"]}
    assert _get(http, tenant, group["id"])["memberCount"] == 1


def test_add_member_to_unknown_group_is_404(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    r = http.post(
        f"{GROUPS}/{uuid.uuid4()}/members", json={"userId": user["id"]}, headers=tenant.headers()
    )
    _error(r, 404)
    r = http.get(f"{USERS}/{user['id']}/groups", headers=tenant.headers())
    assert r.json()["totalCount"] == 0


def test_add_unknown_user_is_404(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    r = http.post(
        f"{GROUPS}/{group['id']}/members",
        json={"userId": str(uuid.uuid4())},
        headers=tenant.headers(),
    )
    _error(r, 404)
    assert _member_ids(http, tenant, group["id"]) == set()
    assert _get(http, tenant, group["id"]) == group


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "userId"),
        ({"userId": None}, "userId"),
        ({"userId": "not-a-uuid"}, "userId"),
        ({"userId": 5}, "userId"),
        ({"userId": [str(uuid.uuid4())]}, "userId"),
        ({"userIds": [str(uuid.uuid4())]}, "userIds"),
        ([], "body"),
        (b'{"userId": ', "body"),
    ],
)
def test_add_member_bad_input_is_400(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    group = tenant.group()
    user = tenant.user()
    _add(http, tenant, group["id"], user["id"])
    _error(_raw(http, tenant, "POST", f"{GROUPS}/{group['id']}/members", body), 400, field)
    assert _member_ids(http, tenant, group["id"]) == {user["id"]}


def test_add_member_with_extra_field_is_400(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    r = http.post(
        f"{GROUPS}/{group['id']}/members",
        json={"userId": user["id"], "role": "owner"},
        headers=tenant.headers(),
    )
    _error(r, 400, "role")
    assert _member_ids(http, tenant, group["id"]) == set()


def test_list_members_pages(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    outsider = tenant.user()
    members = {tenant.user()["id"] for _ in range(5)}
    for user_id in members:
        _add(http, tenant, group["id"], user_id)
    pages = [_members(http, tenant, group["id"], offset=o, limit=2) for o in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all(p["totalCount"] == 5 for p in pages)
    assert [(p["offset"], p["limit"]) for p in pages] == [(0, 2), (2, 2), (4, 2)]
    seen = [u["id"] for p in pages for u in p["items"]]
    assert len(seen) == 5 and set(seen) == members and outsider["id"] not in seen
    by_page = _members(http, tenant, group["id"], page=2, pageSize=2)
    assert [u["id"] for u in by_page["items"]] == [u["id"] for u in pages[1]["items"]]
    assert (by_page["page"], by_page["pageSize"], by_page["offset"]) == (2, 2, 2)
    assert by_page["totalCount"] == 5
    default = _members(http, tenant, group["id"])
    assert (default["offset"], default["limit"], default["totalCount"]) == (0, 25, 5)


def test_list_members_of_empty_group(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    tenant.user()
    assert _members(http, tenant, group["id"]) == {
        "items": [],
        "totalCount": 0,
        "offset": 0,
        "limit": 25,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 101}, "limit"), ({"offset": -1}, "offset"), ({"pageSize": 101}, "pageSize")],
)
def test_list_members_bad_paging_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    group = tenant.group()
    r = http.get(f"{GROUPS}/{group['id']}/members", params=params, headers=tenant.headers())
    _error(r, 400, field)


def test_list_members_of_unknown_group_is_404(http: TestClient, tenant: TenantHandle) -> None:
    _error(http.get(f"{GROUPS}/{uuid.uuid4()}/members", headers=tenant.headers()), 404)


def test_members_include_inactive_users(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user = tenant.user()
    _add(http, tenant, group["id"], user["id"])
    r = http.patch(f"{USERS}/{user['id']}", json={"isActive": False}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    page = _members(http, tenant, group["id"])
    assert [u["id"] for u in page["items"]] == [user["id"]]
    assert page["items"][0]["isActive"] is False


def test_remove_member(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    stays, leaves = tenant.user(), tenant.user()
    _add(http, tenant, group["id"], stays["id"])
    _add(http, tenant, group["id"], leaves["id"])
    url = f"{GROUPS}/{group['id']}/members/{leaves['id']}"
    r = http.delete(url, headers=tenant.headers("group:write"))
    assert r.status_code == 204 and r.content == b""
    assert _member_ids(http, tenant, group["id"]) == {stays["id"]}
    r = http.get(f"{USERS}/{leaves['id']}", headers=tenant.headers())
    assert r.status_code == 200
    # removing again: not a member any more
    _error(http.delete(url, headers=tenant.headers()), 404)
    # and they can be added back
    _add(http, tenant, group["id"], leaves["id"])
    assert _member_ids(http, tenant, group["id"]) == {stays["id"], leaves["id"]}


def test_remove_non_member_is_404(http: TestClient, tenant: TenantHandle) -> None:
    group, other = tenant.group(), tenant.group()
    user = tenant.user()
    _add(http, tenant, other["id"], user["id"])
    r = http.delete(f"{GROUPS}/{group['id']}/members/{user['id']}", headers=tenant.headers())
    _error(r, 404)
    assert _member_ids(http, tenant, other["id"]) == {user["id"]}
    r = http.delete(f"{GROUPS}/{group['id']}/members/{uuid.uuid4()}", headers=tenant.headers())
    _error(r, 404)
    r = http.delete(f"{GROUPS}/{uuid.uuid4()}/members/{user['id']}", headers=tenant.headers())
    _error(r, 404)
    assert _member_ids(http, tenant, other["id"]) == {user["id"]}


# ---- authentication and scopes -------------------------------------------------------------


def _operations(group_id: str, user_id: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """Every group operation with a harmless valid request and the scope it needs."""
    url = f"{GROUPS}/{group_id}"
    return [
        ("GET", GROUPS, {}, "group:read"),
        ("POST", GROUPS, {"json": {"name": _name()}}, "group:write"),
        ("GET", url, {}, "group:read"),
        ("PATCH", url, {"json": {"name": "hacked"}}, "group:write"),
        ("DELETE", url, {}, "group:write"),
        ("GET", f"{url}/members", {}, "group:read"),
        ("POST", f"{url}/members", {"json": {"userId": user_id}}, "group:write"),
        ("DELETE", f"{url}/members/{user_id}", {}, "group:write"),
    ]


def _snapshot(http: TestClient, tenant: TenantHandle) -> dict[str, Any]:
    return {g["id"]: (g, _member_ids(http, tenant, g["id"])) for g in _all(http, tenant)}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz"]
)
def test_401_without_a_valid_token(
    http: TestClient, tenant: TenantHandle, authorization: str | None
) -> None:
    group = tenant.group()
    user, member = tenant.user(), tenant.user()
    _add(http, tenant, group["id"], member["id"])
    before = _snapshot(http, tenant)
    headers = {"Authorization": authorization} if authorization else {}
    for method, url, kwargs, _ in _operations(group["id"], member["id"]):
        r = http.request(method, url, headers=headers, **kwargs)
        assert _error(r, 401)["code"] == "unauthorized", (method, url)
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
    r = http.post(f"{GROUPS}/{group['id']}/members", json={"userId": user["id"]}, headers=headers)
    _error(r, 401)
    assert _snapshot(http, tenant) == before


def test_401_with_a_scim_token(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    headers = {"Authorization": f"Bearer {tenant.scim_token()}"}
    _error(http.get(GROUPS, headers=headers), 401)
    _error(http.delete(f"{GROUPS}/{group['id']}", headers=headers), 401)
    assert _all(http, tenant) == [group]


def test_403_when_the_token_lacks_the_scope(http: TestClient, tenant: TenantHandle) -> None:
    group = tenant.group()
    user, member = tenant.user(), tenant.user()
    _add(http, tenant, group["id"], member["id"])
    before = _snapshot(http, tenant)
    for method, url, kwargs, needed in _operations(group["id"], member["id"]):
        # every scope but the one needed (and admin, which implies it)
        others = [s for s in ALL_SCOPES if s not in (needed, "admin")]
        for headers in (tenant.headers(*others), tenant.headers("user:read", "user:write")):
            r = http.request(method, url, headers=headers, **kwargs)
            err = _error(r, 403)
            assert err["code"] == "insufficient_scope", (method, url)
            assert needed in err["message"], (method, url)
    h = tenant.headers("group:read")
    _error(
        http.post(f"{GROUPS}/{group['id']}/members", json={"userId": user["id"]}, headers=h), 403
    )
    assert _snapshot(http, tenant) == before


def test_403_examples_from_the_brief(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(GROUPS, json={"name": _name()}, headers=tenant.headers("group:read"))
    assert _error(r, 403)["code"] == "insufficient_scope"
    r = http.get(GROUPS, headers=tenant.headers("user:read"))
    assert _error(r, 403)["code"] == "insufficient_scope"
    assert _all(http, tenant) == []


def test_exact_scopes_suffice(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    read, write = tenant.headers("group:read"), tenant.headers("group:write")
    r = http.post(GROUPS, json={"name": _name()}, headers=write)
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    assert http.get(GROUPS, headers=read).status_code == 200
    assert http.get(f"{GROUPS}/{gid}", headers=read).status_code == 200
    assert http.patch(f"{GROUPS}/{gid}", json={"name": _name()}, headers=write).status_code == 200
    r = http.post(f"{GROUPS}/{gid}/members", json={"userId": user["id"]}, headers=write)
    assert r.status_code == 201
    assert http.get(f"{GROUPS}/{gid}/members", headers=read).status_code == 200
    assert http.delete(f"{GROUPS}/{gid}/members/{user['id']}", headers=write).status_code == 204
    assert http.get(GROUPS, headers=tenant.headers("admin")).status_code == 200
    assert http.delete(f"{GROUPS}/{gid}", headers=tenant.headers("admin")).status_code == 204


# ---- tenant isolation ----------------------------------------------------------------------


def test_list_never_shows_another_tenants_groups(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.group(name="Shared name")
    parent = other_tenant.group(name="Theirs")
    other_tenant.group(name="Shared name 2", parentId=parent["id"])
    assert _all(http, tenant) == [mine]
    assert _list(http, tenant, query="Shared")["totalCount"] == 1
    assert _list(http, tenant, query="Theirs")["totalCount"] == 0
    assert _list(http, tenant, parentId=parent["id"])["totalCount"] == 0
    assert len(_all(http, other_tenant)) == 2


def test_another_tenants_group_is_404_and_untouched(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = other_tenant.group(description="theirs")
    their_user = other_tenant.user()
    _add(http, other_tenant, theirs["id"], their_user["id"])
    theirs = _get(http, other_tenant, theirs["id"])
    my_user = tenant.user()
    url = f"{GROUPS}/{theirs['id']}"
    h = tenant.headers()
    _error(http.get(url, headers=h), 404)
    _error(http.patch(url, json={"name": "mine now", "parentId": None}, headers=h), 404)
    _error(http.get(f"{url}/members", headers=h), 404)
    _error(http.post(f"{url}/members", json={"userId": my_user["id"]}, headers=h), 404)
    _error(http.post(f"{url}/members", json={"userId": their_user["id"]}, headers=h), 404)
    _error(http.delete(f"{url}/members/{their_user['id']}", headers=h), 404)
    _error(http.delete(url, headers=h), 404)
    assert _get(http, other_tenant, theirs["id"]) == theirs
    assert _member_ids(http, other_tenant, theirs["id"]) == {their_user["id"]}


def test_another_tenants_user_cannot_be_added(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    group = tenant.group()
    their_user = other_tenant.user()
    r = http.post(
        f"{GROUPS}/{group['id']}/members",
        json={"userId": their_user["id"]},
        headers=tenant.headers(),
    )
    _error(r, 404)
    assert _member_ids(http, tenant, group["id"]) == set()
    r = http.get(f"{USERS}/{their_user['id']}/groups", headers=other_tenant.headers())
    assert r.status_code == 200 and r.json()["totalCount"] == 0


def test_tokens_of_another_tenant_see_only_that_tenant(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.group()
    r = http.get(GROUPS, headers=other_tenant.headers())
    assert r.status_code == 200 and r.json()["totalCount"] == 0
    _error(http.get(f"{GROUPS}/{mine['id']}", headers=other_tenant.headers()), 404)
