"""/integration/v2/teams: listing, members (users whose teamId is the team), managers, the
create/update/delete extensions, errors, scopes and tenant isolation.
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

TEAMS = f"{V2}/teams"
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
    r = http.get(TEAMS, params=params, headers=tenant.headers("team:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _all(http: TestClient, tenant: TenantHandle) -> list[dict[str, Any]]:
    page = _list(http, tenant, limit=100)
    assert page["totalCount"] == len(page["items"])
    return list(page["items"])


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def _get(http: TestClient, tenant: TenantHandle, team_id: str) -> dict[str, Any]:
    r = http.get(f"{TEAMS}/{team_id}", headers=tenant.headers("team:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _members(http: TestClient, tenant: TenantHandle, team_id: str, **params: Any) -> Any:
    r = http.get(f"{TEAMS}/{team_id}/members", params=params, headers=tenant.headers("team:read"))
    assert r.status_code == 200, r.text
    return r.json()


def _member_ids(http: TestClient, tenant: TenantHandle, team_id: str) -> set[str]:
    page = _members(http, tenant, team_id, limit=100)
    assert page["totalCount"] == len(page["items"])
    return {u["id"] for u in page["items"]}


def _user(http: TestClient, tenant: TenantHandle, user_id: str) -> dict[str, Any]:
    r = http.get(f"{USERS}/{user_id}", headers=tenant.headers("user:read"))
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


def _actions(tenant: TenantHandle, team_id: str) -> list[str]:
    with tenant.runtime.db.reader() as session:
        return [e.action for e in audit_repo.for_resource(session, tenant.id, "team", team_id)]


def _name() -> str:
    return f"team-{secrets.token_hex(4)}"


# ---- list ----------------------------------------------------------------------------------


def test_list_of_an_empty_tenant(http: TestClient, tenant: TenantHandle) -> None:
    assert _list(http, tenant) == {"items": [], "totalCount": 0, "offset": 0, "limit": 25}


def test_list_returns_teams_with_counts_and_managers(
    http: TestClient, tenant: TenantHandle
) -> None:
    boss = tenant.user(firstName="Bea", lastName="Boss")
    led = tenant.team(name="Led", managerId=boss["id"])
    plain = tenant.team(name="Plain")
    tenant.user(teamId=led["id"])
    tenant.user(teamId=led["id"])
    page = _list(http, tenant)
    assert page["totalCount"] == 2 and (page["offset"], page["limit"]) == (0, 25)
    by_id = {t["id"]: t for t in page["items"]}
    assert by_id[led["id"]]["memberCount"] == 2
    assert by_id[led["id"]]["managerId"] == boss["id"]
    assert by_id[led["id"]]["managerName"] == "Bea Boss"
    assert by_id[plain["id"]] == plain
    assert "managerId" not in by_id[plain["id"]] and "managerName" not in by_id[plain["id"]]


def test_list_query_is_a_case_insensitive_partial_match(
    http: TestClient, tenant: TenantHandle
) -> None:
    east = tenant.team(name="Field Sales East")
    west = tenant.team(name="field sales west")
    tenant.team(name="Support")
    tenant.team(name="50%_off")
    page = _list(http, tenant, query="FIELD SALES")
    assert set(_ids(page)) == {east["id"], west["id"]} and page["totalCount"] == 2
    assert _ids(_list(http, tenant, query="s we")) == [west["id"]]
    assert _list(http, tenant, query="nope")["totalCount"] == 0
    assert _list(http, tenant, query="%")["totalCount"] == 1
    assert _list(http, tenant, query="_")["totalCount"] == 1
    assert _list(http, tenant, query="")["totalCount"] == 4


def test_list_pages(http: TestClient, tenant: TenantHandle) -> None:
    made = {tenant.team()["id"] for _ in range(5)}
    pages = [_list(http, tenant, offset=o, limit=2) for o in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all(p["totalCount"] == 5 for p in pages)
    assert [(p["offset"], p["limit"]) for p in pages] == [(0, 2), (2, 2), (4, 2)]
    seen = [t for p in pages for t in _ids(p)]
    assert len(seen) == 5 and set(seen) == made
    by_page = _list(http, tenant, page=2, pageSize=2)
    assert _ids(by_page) == _ids(pages[1]) and (by_page["offset"], by_page["limit"]) == (2, 2)
    assert (by_page["page"], by_page["pageSize"], by_page["totalCount"]) == (2, 2, 5)
    assert "page" not in pages[1] and "pageSize" not in pages[1]
    assert _list(http, tenant, offset=9)["items"] == []
    # paging applies after the query
    matching = _list(http, tenant, query="team-", limit=3)
    assert matching["totalCount"] == 5 and len(matching["items"]) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": -1}, "offset"),
        ({"page": 0}, "page"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 1, "offset": 3}, "offset"),
        ({"query": "q" * 256}, "query"),
        ({"query": "\x00"}, "query"),
    ],
)
def test_list_bad_query_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    tenant.team()
    r = http.get(TEAMS, params=params, headers=tenant.headers())
    assert _error(r, 400, field)["code"] == "invalid_request"


# ---- get -----------------------------------------------------------------------------------


def test_get_team_with_member_count_and_manager(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user(firstName="Maria", lastName="Manager")
    team = tenant.team(name="Enterprise", description="Big deals", managerId=manager["id"])
    uuid.UUID(team["id"])
    assert team["managerId"] == manager["id"] and team["managerName"] == "Maria Manager"
    assert team["memberCount"] == 0
    for stamp in ("createdAt", "modifiedAt"):
        assert team[stamp].endswith("Z")
        datetime.fromisoformat(team[stamp])
    assert _get(http, tenant, team["id"]) == team

    members = [tenant.user(teamId=team["id"]) for _ in range(3)]
    tenant.user()  # not in the team
    fetched = _get(http, tenant, team["id"])
    assert fetched["memberCount"] == 3
    assert (fetched["managerId"], fetched["managerName"]) == (manager["id"], "Maria Manager")
    # the manager is not counted unless they are in the team themselves
    r = http.patch(
        f"{USERS}/{manager['id']}", json={"teamId": team["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert _get(http, tenant, team["id"])["memberCount"] == 4
    r = http.patch(f"{USERS}/{members[0]['id']}", json={"teamId": None}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _get(http, tenant, team["id"])["memberCount"] == 3


def test_manager_name_prefers_the_display_name(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user(firstName="Robert", lastName="Tables", displayName="Bobby T")
    team = tenant.team(managerId=manager["id"])
    assert team["managerName"] == "Bobby T"
    assert _get(http, tenant, team["id"])["managerName"] == "Bobby T"


def test_manager_name_follows_the_manager(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user(firstName="Old", lastName="Name")
    team = tenant.team(managerId=manager["id"])
    r = http.patch(f"{USERS}/{manager['id']}", json={"firstName": "New"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _get(http, tenant, team["id"])["managerName"] == "New Name"
    # deleting the manager leaves the team without one
    assert http.delete(f"{USERS}/{manager['id']}", headers=tenant.headers()).status_code == 204
    fetched = _get(http, tenant, team["id"])
    assert "managerId" not in fetched and "managerName" not in fetched


def test_get_unknown_team_is_404(http: TestClient, tenant: TenantHandle) -> None:
    tenant.team()
    err = _error(http.get(f"{TEAMS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert err["code"] == "not_found"
    _error(http.get(f"{TEAMS}/{uuid.uuid4()}/members", headers=tenant.headers()), 404)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "0000"])
def test_malformed_team_id_in_path_is_400(
    http: TestClient, tenant: TenantHandle, bad_id: str
) -> None:
    team = tenant.team()
    url = f"{TEAMS}/{bad_id}"
    h = tenant.headers()
    for r in (
        http.get(url, headers=h),
        http.patch(url, json={"name": "x"}, headers=h),
        http.delete(url, headers=h),
        http.get(f"{url}/members", headers=h),
    ):
        _error(r, 400, "teamId")
    assert _all(http, tenant) == [team]


# ---- members -------------------------------------------------------------------------------


def test_members_are_the_users_of_the_team(http: TestClient, tenant: TenantHandle) -> None:
    team, other = tenant.team(), tenant.team()
    a = tenant.user(teamId=team["id"])
    b = tenant.user(teamId=team["id"])
    elsewhere = tenant.user(teamId=other["id"])
    tenant.user()
    page = _members(http, tenant, team["id"])
    assert page["totalCount"] == 2 and (page["offset"], page["limit"]) == (0, 25)
    assert {u["id"] for u in page["items"]} == {a["id"], b["id"]}
    for item in page["items"]:
        assert item["teamId"] == team["id"] and item["teamName"] == team["name"]
        assert item == _user(http, tenant, item["id"])
    assert _member_ids(http, tenant, other["id"]) == {elsewhere["id"]}

    # moving a user moves their membership
    r = http.patch(f"{USERS}/{a['id']}", json={"teamId": other["id"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert _member_ids(http, tenant, team["id"]) == {b["id"]}
    assert _member_ids(http, tenant, other["id"]) == {a["id"], elsewhere["id"]}


def test_members_include_inactive_users(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team()
    user = tenant.user(teamId=team["id"])
    r = http.patch(f"{USERS}/{user['id']}", json={"isActive": False}, headers=tenant.headers())
    assert r.status_code == 200
    page = _members(http, tenant, team["id"])
    assert [u["id"] for u in page["items"]] == [user["id"]]
    assert page["items"][0]["isActive"] is False


def test_members_page(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team()
    made = {tenant.user(teamId=team["id"])["id"] for _ in range(5)}
    pages = [_members(http, tenant, team["id"], offset=o, limit=2) for o in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all(p["totalCount"] == 5 for p in pages)
    seen = [u["id"] for p in pages for u in p["items"]]
    assert len(seen) == 5 and set(seen) == made
    by_page = _members(http, tenant, team["id"], page=3, pageSize=2)
    assert [u["id"] for u in by_page["items"]] == [u["id"] for u in pages[2]["items"]]
    assert (by_page["page"], by_page["pageSize"], by_page["offset"]) == (3, 2, 4)


@pytest.mark.parametrize(
    ("params", "field"), [({"limit": 101}, "limit"), ({"offset": -1}, "offset")]
)
def test_members_bad_paging_is_400(
    http: TestClient, tenant: TenantHandle, params: dict[str, Any], field: str
) -> None:
    team = tenant.team()
    r = http.get(f"{TEAMS}/{team['id']}/members", params=params, headers=tenant.headers())
    _error(r, 400, field)


# ---- create --------------------------------------------------------------------------------


def test_create_team(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        TEAMS,
        json={"name": "  Inside Sales ", "description": "SDRs"},
        headers=tenant.headers("team:write"),
    )
    assert r.status_code == 201, r.text
    team = r.json()
    assert team["name"] == "Inside Sales" and team["description"] == "SDRs"
    assert team["memberCount"] == 0
    assert "managerId" not in team and "managerName" not in team
    assert _get(http, tenant, team["id"]) == team
    assert _all(http, tenant) == [team]
    assert _actions(tenant, team["id"]) == ["team.created"]


def test_create_with_manager(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user(firstName="Mia", lastName="Lead")
    r = http.post(
        TEAMS, json={"name": _name(), "managerId": manager["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 201, r.text
    team = r.json()
    assert (team["managerId"], team["managerName"]) == (manager["id"], "Mia Lead")
    assert _get(http, tenant, team["id"]) == team
    # managing a team does not make the manager a member
    assert _user(http, tenant, manager["id"]) == manager


def test_create_accepts_the_longest_fields(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team(name="n" * 255, description="d" * 2000)
    fetched = _get(http, tenant, team["id"])
    assert (fetched["name"], fetched["description"]) == ("n" * 255, "d" * 2000)


@pytest.mark.parametrize("dup", ["Renewals", "renewals", " RENEWALS "])
def test_create_duplicate_name_is_409(http: TestClient, tenant: TenantHandle, dup: str) -> None:
    first = tenant.team(name="Renewals")
    err = _error(http.post(TEAMS, json={"name": dup}, headers=tenant.headers()), 409)
    assert err["code"] == "conflict"
    assert _all(http, tenant) == [first]


def test_same_name_in_two_tenants(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine, theirs = tenant.team(name="Ops"), other_tenant.team(name="Ops")
    assert _all(http, tenant) == [mine] and _all(http, other_tenant) == [theirs]


def test_create_with_unknown_manager_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    foreign = other_tenant.user()
    for manager_id in (str(uuid.uuid4()), foreign["id"]):
        r = http.post(
            TEAMS, json={"name": _name(), "managerId": manager_id}, headers=tenant.headers()
        )
        assert _error(r, 400, "managerId")["code"] == "invalid_request"
    assert _all(http, tenant) == []


def _valid(**fields: Any) -> dict[str, Any]:
    return {"name": _name(), **fields}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"description": "x"}, "name"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "\t "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 1.5}, "name"),
        ({"name": "a\x00"}, "name"),
        (_valid(description="d" * 2001), "description"),
        (_valid(description=[]), "description"),
        (_valid(managerId="not-a-uuid"), "managerId"),
        (_valid(managerId=12), "managerId"),
        (_valid(managerId=str(uuid.uuid4())), "managerId"),
        (_valid(memberCount=1), "memberCount"),
        (_valid(managerName="Boss"), "managerName"),
        (_valid(unknownField=True), "unknownField"),
        ([], "body"),
        ("Team", "body"),
        (None, "body"),
        (b'{"name": "x",}', "body"),
        (b"", "body"),
    ],
)
def test_create_bad_input_is_400_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    existing = tenant.team()
    err = _error(_raw(http, tenant, "POST", TEAMS, body), 400, field)
    assert err["code"] == "invalid_request"
    assert _all(http, tenant) == [existing]


# ---- update --------------------------------------------------------------------------------


def test_patch_changes_only_sent_fields(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user(firstName="Max", lastName="Boss")
    team = tenant.team(name="Before", description="Old", managerId=manager["id"])
    member = tenant.user(teamId=team["id"])
    url = f"{TEAMS}/{team['id']}"

    r = http.patch(url, json={"description": "New"}, headers=tenant.headers("team:write"))
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["description"] == "New"
    assert (after["name"], after["managerId"], after["managerName"]) == (
        "Before",
        manager["id"],
        "Max Boss",
    )
    assert after["memberCount"] == 1 and after["createdAt"] == team["createdAt"]
    assert after["modifiedAt"] >= team["modifiedAt"]

    r = http.patch(url, json={"name": "After"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == ("After", "New")
    assert r.json()["managerId"] == manager["id"]
    assert _get(http, tenant, team["id"]) == r.json()
    # the members see the new name
    assert _user(http, tenant, member["id"])["teamName"] == "After"
    assert _actions(tenant, team["id"]) == ["team.created", "team.updated", "team.updated"]


def test_patch_empty_body_changes_nothing(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team(description="d", managerId=tenant.user()["id"])
    r = http.patch(f"{TEAMS}/{team['id']}", json={}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json() == team == _get(http, tenant, team["id"])


def test_patch_changes_and_clears_the_manager(http: TestClient, tenant: TenantHandle) -> None:
    first = tenant.user(firstName="First", lastName="Manager")
    second = tenant.user(firstName="Second", lastName="Manager")
    team = tenant.team(managerId=first["id"])
    url = f"{TEAMS}/{team['id']}"
    r = http.patch(url, json={"managerId": second["id"]}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert (r.json()["managerId"], r.json()["managerName"]) == (second["id"], "Second Manager")
    assert _get(http, tenant, team["id"]) == r.json()

    r = http.patch(
        url, json={"managerId": None, "description": "leaderless"}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    fetched = _get(http, tenant, team["id"])
    assert "managerId" not in fetched and "managerName" not in fetched
    assert fetched["description"] == "leaderless"


def test_patch_description_null_clears_it(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team(description="temp")
    r = http.patch(f"{TEAMS}/{team['id']}", json={"description": None}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert "description" not in _get(http, tenant, team["id"])


def test_patch_unknown_manager_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    team = tenant.team(managerId=tenant.user()["id"])
    foreign = other_tenant.user()
    for manager_id in (str(uuid.uuid4()), foreign["id"]):
        r = http.patch(
            f"{TEAMS}/{team['id']}",
            json={"managerId": manager_id, "name": "renamed"},
            headers=tenant.headers(),
        )
        _error(r, 400, "managerId")
    assert _get(http, tenant, team["id"]) == team
    assert _actions(tenant, team["id"]) == ["team.created"]


def test_patch_rename_to_a_taken_name_is_409(http: TestClient, tenant: TenantHandle) -> None:
    tenant.team(name="Taken")
    team = tenant.team(name="Mine")
    for name in ("Taken", "tAKEN"):
        _error(
            http.patch(f"{TEAMS}/{team['id']}", json={"name": name}, headers=tenant.headers()), 409
        )
    assert _get(http, tenant, team["id"]) == team
    r = http.patch(f"{TEAMS}/{team['id']}", json={"name": "MINE"}, headers=tenant.headers())
    assert r.status_code == 200 and r.json()["name"] == "MINE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": True}, "name"),
        ({"description": "d" * 2001}, "description"),
        ({"managerId": "nope"}, "managerId"),
        ({"managerId": str(uuid.uuid4())}, "managerId"),
        ({"memberCount": 0}, "memberCount"),
        ({"name": "ok", "extra": 1}, "extra"),
        ([], "body"),
        (1, "body"),
        (b'{"name"', "body"),
    ],
)
def test_patch_bad_input_is_400_and_changes_nothing(
    http: TestClient, tenant: TenantHandle, body: Any, field: str
) -> None:
    team = tenant.team(description="keep", managerId=tenant.user()["id"])
    err = _error(_raw(http, tenant, "PATCH", f"{TEAMS}/{team['id']}", body), 400, field)
    assert err["code"] == "invalid_request"
    assert _get(http, tenant, team["id"]) == team
    assert _actions(tenant, team["id"]) == ["team.created"]


def test_patch_unknown_team_is_404(http: TestClient, tenant: TenantHandle) -> None:
    _error(http.patch(f"{TEAMS}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.headers()), 404)
    assert _all(http, tenant) == []


# ---- delete --------------------------------------------------------------------------------


def test_delete_team_leaves_members_without_a_team(http: TestClient, tenant: TenantHandle) -> None:
    manager = tenant.user()
    team = tenant.team(managerId=manager["id"])
    keep = tenant.team()
    members = [tenant.user(teamId=team["id"], title="AE") for _ in range(2)]
    elsewhere = tenant.user(teamId=keep["id"])
    r = http.delete(f"{TEAMS}/{team['id']}", headers=tenant.headers("team:write"))
    assert r.status_code == 204 and r.content == b""

    _error(http.get(f"{TEAMS}/{team['id']}", headers=tenant.headers()), 404)
    _error(http.get(f"{TEAMS}/{team['id']}/members", headers=tenant.headers()), 404)
    _error(http.delete(f"{TEAMS}/{team['id']}", headers=tenant.headers()), 404)
    assert _all(http, tenant) == [_get(http, tenant, keep["id"])]
    for member in members:
        user = _user(http, tenant, member["id"])
        assert "teamId" not in user and "teamName" not in user
        assert (user["email"], user["title"]) == (member["email"], "AE")
        # and the user can still be changed (its row version moved on cleanly)
        r = http.patch(f"{USERS}/{member['id']}", json={"title": "SE"}, headers=tenant.headers())
        assert r.status_code == 200, r.text
    assert _user(http, tenant, manager["id"]) == manager
    assert _user(http, tenant, elsewhere["id"])["teamId"] == keep["id"]
    assert _member_ids(http, tenant, keep["id"]) == {elsewhere["id"]}
    assert _actions(tenant, team["id"]) == ["team.created", "team.deleted"]
    # the name is free again
    assert tenant.team(name=team["name"])["id"] != team["id"]


def test_delete_unknown_team_is_404(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team()
    _error(http.delete(f"{TEAMS}/{uuid.uuid4()}", headers=tenant.headers()), 404)
    assert _all(http, tenant) == [team]


# ---- authentication and scopes -------------------------------------------------------------


def _operations(team_id: str) -> list[tuple[str, str, dict[str, Any], str]]:
    url = f"{TEAMS}/{team_id}"
    return [
        ("GET", TEAMS, {}, "team:read"),
        ("POST", TEAMS, {"json": {"name": _name()}}, "team:write"),
        ("GET", url, {}, "team:read"),
        ("PATCH", url, {"json": {"name": "hacked"}}, "team:write"),
        ("DELETE", url, {}, "team:write"),
        ("GET", f"{url}/members", {}, "team:read"),
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer garbage", "Bearer a.b.c"])
def test_401_without_a_valid_token(
    http: TestClient, tenant: TenantHandle, authorization: str | None
) -> None:
    team = tenant.team()
    member = tenant.user(teamId=team["id"])
    headers = {"Authorization": authorization} if authorization else {}
    for method, url, kwargs, _ in _operations(team["id"]):
        r = http.request(method, url, headers=headers, **kwargs)
        assert _error(r, 401)["code"] == "unauthorized", (method, url)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert _all(http, tenant) == [_get(http, tenant, team["id"])]
    assert _user(http, tenant, member["id"])["teamId"] == team["id"]


def test_403_when_the_token_lacks_the_scope(http: TestClient, tenant: TenantHandle) -> None:
    team = tenant.team()
    member = tenant.user(teamId=team["id"])
    before = _all(http, tenant)
    for method, url, kwargs, needed in _operations(team["id"]):
        others = [s for s in ALL_SCOPES if s not in (needed, "admin")]
        for headers in (tenant.headers(*others), tenant.headers("user:read", "user:write")):
            err = _error(http.request(method, url, headers=headers, **kwargs), 403)
            assert err["code"] == "insufficient_scope" and needed in err["message"]
    assert _all(http, tenant) == before
    assert _user(http, tenant, member["id"])["teamId"] == team["id"]


def test_team_read_cannot_write_and_team_write_cannot_read(
    http: TestClient, tenant: TenantHandle
) -> None:
    team = tenant.team()
    read, write = tenant.headers("team:read"), tenant.headers("team:write")
    _error(http.post(TEAMS, json={"name": _name()}, headers=read), 403)
    _error(http.patch(f"{TEAMS}/{team['id']}", json={"name": "x"}, headers=read), 403)
    _error(http.delete(f"{TEAMS}/{team['id']}", headers=read), 403)
    _error(http.get(TEAMS, headers=write), 403)
    _error(http.get(f"{TEAMS}/{team['id']}", headers=write), 403)
    _error(http.get(f"{TEAMS}/{team['id']}/members", headers=write), 403)
    assert _all(http, tenant) == [team]


def test_exact_scopes_suffice(http: TestClient, tenant: TenantHandle) -> None:
    read, write = tenant.headers("team:read"), tenant.headers("team:write")
    r = http.post(TEAMS, json={"name": _name()}, headers=write)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert http.get(TEAMS, headers=read).status_code == 200
    assert http.get(f"{TEAMS}/{tid}", headers=read).status_code == 200
    assert http.get(f"{TEAMS}/{tid}/members", headers=read).status_code == 200
    assert http.patch(f"{TEAMS}/{tid}", json={"description": "x"}, headers=write).status_code == 200
    assert http.get(TEAMS, headers=tenant.headers("admin")).status_code == 200
    assert http.delete(f"{TEAMS}/{tid}", headers=tenant.headers("admin")).status_code == 204


# ---- tenant isolation ----------------------------------------------------------------------


def test_list_never_shows_another_tenants_teams(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    mine = tenant.team(name="Alpha")
    other_tenant.team(name="Alpha Two")
    other_tenant.team(name="Beta")
    assert _all(http, tenant) == [mine]
    assert _list(http, tenant, query="alpha")["totalCount"] == 1
    assert _list(http, tenant, query="beta")["totalCount"] == 0
    assert len(_all(http, other_tenant)) == 2


def test_another_tenants_team_is_404_and_untouched(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = other_tenant.team(description="theirs", managerId=other_tenant.user()["id"])
    their_member = other_tenant.user(teamId=theirs["id"])
    theirs = _get(http, other_tenant, theirs["id"])
    url = f"{TEAMS}/{theirs['id']}"
    h = tenant.headers()
    _error(http.get(url, headers=h), 404)
    _error(http.get(f"{url}/members", headers=h), 404)
    _error(http.patch(url, json={"name": "mine now", "managerId": None}, headers=h), 404)
    _error(http.delete(url, headers=h), 404)
    assert _get(http, other_tenant, theirs["id"]) == theirs
    assert _member_ids(http, other_tenant, theirs["id"]) == {their_member["id"]}


def test_another_tenants_team_cannot_be_joined(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = other_tenant.team()
    user = tenant.user()
    r = http.patch(f"{USERS}/{user['id']}", json={"teamId": theirs["id"]}, headers=tenant.headers())
    _error(r, 400, "teamId")
    assert _user(http, tenant, user["id"]) == user
    assert _get(http, other_tenant, theirs["id"])["memberCount"] == 0
