"""SCIM and /integration/v2 are two views of one store.

What one surface writes, the other reads back the same; a SCIM token never reaches another
tenant's resources; and each surface only takes its own kind of credential.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.scim.support import (
    ENTERPRISE,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    USER_SCHEMA,
    member_ids,
    scim_get,
    scim_patch,
    scim_post,
    v2_get,
)
from tests.factories import V2, TenantHandle

SCIM_ROOTS = ("/scim/v2", "/api/scim/v2")
SCIM = SCIM_ROOTS[0]


def _scim_user(**overrides: Any) -> dict[str, Any]:
    n = secrets.token_hex(4)
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": f"jdoe.{n}",
        "name": {"givenName": "Jane", "familyName": f"Doe{n}"},
        "displayName": f"Jane Doe {n}",
        "emails": [{"value": f"jane.{n}@example.com", "type": "work", "primary": True}],
        "title": "Analyst",
        "locale": "de-DE",
        "active": True,
        ENTERPRISE: {"department": "Finance"},
    }
    body.update(overrides)
    return body


def _v2_patch_user(
    http: TestClient, tenant: TenantHandle, user_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    r = http.patch(f"{V2}/users/{user_id}", json=body, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def _group_ids(user: dict[str, Any]) -> set[str]:
    return {g["value"] for g in user.get("groups", [])}


# ---- users: SCIM -> v2 ---------------------------------------------------------------------


def test_scim_user_reads_back_through_v2(http: TestClient, tenant: TenantHandle) -> None:
    body = _scim_user()
    created = scim_post(http, tenant, "/Users", body)

    v2 = v2_get(http, tenant, f"/users/{created['id']}")
    assert v2["id"] == created["id"]
    assert v2["username"] == body["userName"]
    assert v2["email"] == body["emails"][0]["value"]
    assert v2["firstName"] == "Jane"
    assert v2["lastName"] == body["name"]["familyName"]
    assert v2["displayName"] == body["displayName"]
    assert v2["title"] == "Analyst"
    assert v2["department"] == "Finance"
    assert v2["locale"] == "de-DE"
    assert v2["status"] == "active"
    assert v2["isActive"] is True

    # The v2 listing finds it by its SCIM userName and by its email.
    for param, value in (("username", body["userName"]), ("email", body["emails"][0]["value"])):
        r = http.get(f"{V2}/users", params={param: value}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()["items"]] == [created["id"]]

    # SCIM changes show through v2 too.
    scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "replace", "path": "title", "value": "Controller"},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Audit"},
        {"op": "replace", "path": "name.givenName", "value": "Janet"},
        {"op": "replace", "value": {"active": False}},
    )
    v2 = v2_get(http, tenant, f"/users/{created['id']}")
    assert (v2["title"], v2["department"], v2["firstName"]) == ("Controller", "Audit", "Janet")
    assert v2["status"] == "inactive"
    assert v2["isActive"] is False
    r = http.get(
        f"{V2}/users", params={"isActive": "false", "limit": 100}, headers=tenant.headers()
    )
    assert created["id"] in [u["id"] for u in r.json()["items"]]


def test_scim_user_created_inactive_is_inactive_in_v2(
    http: TestClient, tenant: TenantHandle
) -> None:
    created = scim_post(http, tenant, "/Users", _scim_user(active=False))
    assert created["active"] is False
    v2 = v2_get(http, tenant, f"/users/{created['id']}")
    assert v2["status"] == "inactive"
    assert v2["isActive"] is False


# ---- users: v2 -> SCIM ---------------------------------------------------------------------


def test_v2_user_reads_back_through_scim(http: TestClient, tenant: TenantHandle) -> None:
    n = secrets.token_hex(4)
    user = tenant.user(
        email=f"max.{n}@example.com",
        firstName="Max",
        lastName=f"Mustermann{n}",
        username=f"max.{n}",
        displayName=f"Max M {n}",
        title="Buyer",
        department="Procurement",
        locale="en-GB",
    )

    scim = scim_get(http, tenant, f"/Users/{user['id']}")
    assert scim["id"] == user["id"]
    assert scim["userName"] == f"max.{n}"
    assert scim["name"]["givenName"] == "Max"
    assert scim["name"]["familyName"] == f"Mustermann{n}"
    assert scim["displayName"] == f"Max M {n}"
    assert scim["emails"] == [{"value": f"max.{n}@example.com", "type": "work", "primary": True}]
    assert scim["title"] == "Buyer"
    assert scim["locale"] == "en-GB"
    assert scim["active"] is True
    assert scim[ENTERPRISE]["department"] == "Procurement"
    assert scim["meta"]["resourceType"] == "User"

    # Found by the filter an IdP would use.
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "max.{n}"'},
        headers=tenant.scim_headers(),
    )
    assert [u["id"] for u in r.json()["Resources"]] == [user["id"]]

    # v2 changes show through SCIM.
    before = scim["meta"]["version"]
    _v2_patch_user(
        http,
        tenant,
        user["id"],
        {
            "title": "Lead Buyer",
            "department": "Sourcing",
            "email": f"max.m.{n}@example.com",
            "lastName": "Muster",
        },
    )
    scim = scim_get(http, tenant, f"/Users/{user['id']}")
    assert scim["title"] == "Lead Buyer"
    assert scim[ENTERPRISE]["department"] == "Sourcing"
    assert scim["emails"][0]["value"] == f"max.m.{n}@example.com"
    assert scim["name"]["familyName"] == "Muster"
    assert scim["meta"]["version"] != before

    _v2_patch_user(http, tenant, user["id"], {"isActive": False})
    scim = scim_get(http, tenant, f"/Users/{user['id']}")
    assert scim["active"] is False
    _v2_patch_user(http, tenant, user["id"], {"isActive": True})
    assert scim_get(http, tenant, f"/Users/{user['id']}")["active"] is True


def test_v2_user_without_username_has_its_email_as_username(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = tenant.user()
    scim = scim_get(http, tenant, f"/Users/{user['id']}")
    assert scim["userName"] == user["email"] == user["username"]
    assert "groups" not in scim


def test_suspension_set_through_v2_survives_scim_deactivation(
    http: TestClient, tenant: TenantHandle
) -> None:
    user = tenant.user()
    _v2_patch_user(http, tenant, user["id"], {"status": "suspended"})
    assert scim_get(http, tenant, f"/Users/{user['id']}")["active"] is False

    scim_patch(http, tenant, f"/Users/{user['id']}", {"op": "replace", "value": {"active": False}})
    assert v2_get(http, tenant, f"/users/{user['id']}")["status"] == "suspended"

    scim_patch(http, tenant, f"/Users/{user['id']}", {"op": "replace", "value": {"active": True}})
    assert v2_get(http, tenant, f"/users/{user['id']}")["status"] == "active"


def test_scim_put_leaves_v2_only_fields_alone(http: TestClient, tenant: TenantHandle) -> None:
    role = tenant.role()
    team = tenant.team()
    group = tenant.group()
    user = tenant.user(roleId=role["id"], teamId=team["id"], groupIds=[group["id"]])

    scim = scim_get(http, tenant, f"/Users/{user['id']}")
    body = {
        "schemas": [USER_SCHEMA],
        "userName": scim["userName"],
        "name": {"givenName": "Renamed", "familyName": "ByScim"},
        "emails": scim["emails"],
        "active": True,
    }
    r = http.put(f"{SCIM}/Users/{user['id']}", json=body, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text

    v2 = v2_get(http, tenant, f"/users/{user['id']}")
    assert (v2["firstName"], v2["lastName"]) == ("Renamed", "ByScim")
    assert v2["roleId"] == role["id"]
    assert v2["teamId"] == team["id"]
    groups = v2_get(http, tenant, f"/users/{user['id']}/groups")
    assert [g["id"] for g in groups["items"]] == [group["id"]]
    # PUT replaces what SCIM owns: the title and department it left out are cleared.
    assert "title" not in v2
    assert "department" not in v2


def test_v2_change_makes_a_scim_etag_stale(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    r = http.get(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    etag = r.headers["ETag"]
    scim = r.json()

    _v2_patch_user(http, tenant, user["id"], {"title": "Changed elsewhere"})

    body = {"schemas": [USER_SCHEMA], "userName": scim["userName"], "title": "Stale write"}
    r = http.put(
        f"{SCIM}/Users/{user['id']}",
        json=body,
        headers={**tenant.scim_headers(), "If-Match": etag},
    )
    assert r.status_code == 412, r.text
    assert r.json()["schemas"] == [ERROR_SCHEMA]
    assert v2_get(http, tenant, f"/users/{user['id']}")["title"] == "Changed elsewhere"


def test_v2_deleted_user_is_gone_from_scim(http: TestClient, tenant: TenantHandle) -> None:
    user = tenant.user()
    r = http.delete(f"{V2}/users/{user['id']}", headers=tenant.headers())
    assert r.status_code == 204, r.text
    r = http.get(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 404, r.text


# ---- groups --------------------------------------------------------------------------------


def test_scim_group_reads_back_through_v2(http: TestClient, tenant: TenantHandle) -> None:
    alice = scim_post(http, tenant, "/Users", _scim_user())
    bob = tenant.user()
    name = f"Finance {secrets.token_hex(4)}"
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [{"value": alice["id"]}, {"value": bob["id"]}],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]

    v2 = v2_get(http, tenant, f"/groups/{group_id}")
    assert v2["name"] == name
    assert v2["memberCount"] == 2
    members = v2_get(http, tenant, f"/groups/{group_id}/members")
    assert members["totalCount"] == 2
    assert {m["id"] for m in members["items"]} == {alice["id"], bob["id"]}
    assert {m["username"] for m in members["items"]} == {alice["userName"], bob["username"]}
    for user_id in (alice["id"], bob["id"]):
        groups = v2_get(http, tenant, f"/users/{user_id}/groups")
        assert [g["id"] for g in groups["items"]] == [group_id]

    # A SCIM removal and rename (204 No Content) show through v2.
    r = http.patch(
        f"{SCIM}/Groups/{group_id}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
                {"op": "replace", "path": "displayName", "value": f"{name} II"},
            ],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 204, r.text
    v2 = v2_get(http, tenant, f"/groups/{group_id}")
    assert (v2["name"], v2["memberCount"]) == (f"{name} II", 1)
    members = v2_get(http, tenant, f"/groups/{group_id}/members")
    assert [m["id"] for m in members["items"]] == [bob["id"]]
    assert v2_get(http, tenant, f"/users/{alice['id']}/groups")["items"] == []

    r = http.delete(f"{SCIM}/Groups/{group_id}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    r = http.get(f"{V2}/groups/{group_id}", headers=tenant.headers())
    assert r.status_code == 404, r.text


def test_v2_group_membership_reads_back_through_scim(
    http: TestClient, tenant: TenantHandle
) -> None:
    group = tenant.group()
    user = tenant.user()
    other = scim_post(http, tenant, "/Users", _scim_user())

    scim_group = scim_get(http, tenant, f"/Groups/{group['id']}")
    assert scim_group["displayName"] == group["name"]
    assert member_ids(scim_group) == set()
    r = http.get(
        f"{SCIM}/Groups",
        params={"filter": f'displayName eq "{group["name"]}"'},
        headers=tenant.scim_headers(),
    )
    assert [g["id"] for g in r.json()["Resources"]] == [group["id"]]

    for member in (user, other):
        r = http.post(
            f"{V2}/groups/{group['id']}/members",
            json={"userId": member["id"]},
            headers=tenant.headers(),
        )
        assert r.status_code == 201, r.text

    scim_group = scim_get(http, tenant, f"/Groups/{group['id']}")
    assert member_ids(scim_group) == {user["id"], other["id"]}
    displays = {m["value"]: m.get("display") for m in scim_group["members"]}
    assert displays[user["id"]] == user["username"]
    assert displays[other["id"]] == other["userName"]
    scim_user = scim_get(http, tenant, f"/Users/{user['id']}")
    assert _group_ids(scim_user) == {group["id"]}
    assert scim_user["groups"][0]["display"] == group["name"]

    # Removal and a rename through v2.
    r = http.delete(f"{V2}/groups/{group['id']}/members/{user['id']}", headers=tenant.headers())
    assert r.status_code == 204, r.text
    r = http.patch(
        f"{V2}/groups/{group['id']}", json={"name": "Renamed in v2"}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    scim_group = scim_get(http, tenant, f"/Groups/{group['id']}")
    assert member_ids(scim_group) == {other["id"]}
    assert scim_group["displayName"] == "Renamed in v2"
    assert "groups" not in scim_get(http, tenant, f"/Users/{user['id']}")
    assert scim_get(http, tenant, f"/Users/{other['id']}")["groups"][0]["display"] == (
        "Renamed in v2"
    )

    # Setting a user's groups through v2.
    second = tenant.group()
    r = http.put(
        f"{V2}/users/{user['id']}/groups",
        json={"groupIds": [group["id"], second["id"]]},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    assert _group_ids(scim_get(http, tenant, f"/Users/{user['id']}")) == {
        group["id"],
        second["id"],
    }
    assert member_ids(scim_get(http, tenant, f"/Groups/{second['id']}")) == {user["id"]}

    # A user deleted through v2 leaves the SCIM member list.
    r = http.delete(f"{V2}/users/{other['id']}", headers=tenant.headers())
    assert r.status_code == 204, r.text
    assert member_ids(scim_get(http, tenant, f"/Groups/{group['id']}")) == {user["id"]}


# ---- tenant isolation ----------------------------------------------------------------------


def test_scim_token_never_reaches_another_tenant(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = scim_post(http, other_tenant, "/Users", _scim_user())
    their_v2 = other_tenant.user()
    their_group = other_tenant.group()
    mine = scim_post(http, tenant, "/Users", _scim_user())
    headers = tenant.scim_headers()

    for root in SCIM_ROOTS:
        # Filters and listings see only the caller's users.
        for user_name in (theirs["userName"], their_v2["username"]):
            r = http.get(
                f"{root}/Users", params={"filter": f'userName eq "{user_name}"'}, headers=headers
            )
            assert r.status_code == 200, r.text
            assert r.json()["totalResults"] == 0
            assert r.json().get("Resources", []) == []
        r = http.get(f"{root}/Users", headers=headers)
        assert [u["id"] for u in r.json()["Resources"]] == [mine["id"]]
        r = http.post(
            f"{root}/Users/.search",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": f'userName eq "{theirs["userName"]}"',
            },
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == 0
        r = http.get(
            f"{root}/Groups",
            params={"filter": f'displayName eq "{their_group["name"]}"'},
            headers=headers,
        )
        assert r.json()["totalResults"] == 0

        # Every operation on their ids is a 404, as if they did not exist.
        for user_id in (theirs["id"], their_v2["id"]):
            url = f"{root}/Users/{user_id}"
            assert http.get(url, headers=headers).status_code == 404
            r = http.put(
                url,
                json={"schemas": [USER_SCHEMA], "userName": "hijacked", "active": False},
                headers=headers,
            )
            assert r.status_code == 404, r.text
            assert r.json()["schemas"] == [ERROR_SCHEMA]
            r = http.patch(
                url,
                json={
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [{"op": "replace", "value": {"active": False}}],
                },
                headers=headers,
            )
            assert r.status_code == 404, r.text
            assert http.delete(url, headers=headers).status_code == 404
        url = f"{root}/Groups/{their_group['id']}"
        assert http.get(url, headers=headers).status_code == 404
        r = http.patch(
            url,
            json={
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": mine["id"]}]}],
            },
            headers=headers,
        )
        assert r.status_code == 404, r.text
        assert http.delete(url, headers=headers).status_code == 404

    # Their user cannot be made a member of our group either.
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": f"Mine {secrets.token_hex(3)}",
            "members": [{"value": theirs["id"]}],
        },
        headers=headers,
    )
    assert r.status_code == 400, r.text
    # Nor our manager.
    r = http.patch(
        f"{SCIM}/Users/{mine['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": theirs["id"]}],
        },
        headers=headers,
    )
    assert r.status_code == 400, r.text

    # Their resources are exactly as they were.
    got = scim_get(http, other_tenant, f"/Users/{theirs['id']}")
    assert (got["userName"], got["active"]) == (theirs["userName"], True)
    assert got["meta"]["version"] == theirs["meta"]["version"]
    assert v2_get(http, other_tenant, f"/users/{their_v2['id']}")["status"] == "active"
    assert v2_get(http, other_tenant, f"/groups/{their_group['id']}")["memberCount"] == 0


def test_v2_token_never_reaches_another_tenants_scim_users(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = scim_post(http, other_tenant, "/Users", _scim_user())
    r = http.get(f"{V2}/users/{theirs['id']}", headers=tenant.headers())
    assert r.status_code == 404, r.text
    r = http.get(f"{V2}/users", params={"username": theirs["userName"]}, headers=tenant.headers())
    assert r.json()["totalCount"] == 0


# ---- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("root", SCIM_ROOTS)
def test_oauth_token_is_refused_by_scim(http: TestClient, tenant: TenantHandle, root: str) -> None:
    user = tenant.user()
    for method, path in (
        ("GET", "/Users"),
        ("GET", f"/Users/{user['id']}"),
        ("GET", "/Groups"),
        ("DELETE", f"/Users/{user['id']}"),
    ):
        r = http.request(method, f"{root}{path}", headers=tenant.headers())
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/scim+json")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        body = r.json()
        assert body["schemas"] == [ERROR_SCHEMA]
        assert body["status"] == "401"
        assert "SCIM token" in body["detail"]
        assert "OAuth" in body["detail"]
    # The refused DELETE changed nothing.
    assert v2_get(http, tenant, f"/users/{user['id']}")["status"] == "active"


def test_scim_token_is_refused_by_v2(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _scim_user())
    for method, path in (
        ("GET", "/users"),
        ("GET", f"/users/{user['id']}"),
        ("GET", "/groups"),
        ("DELETE", f"/users/{user['id']}"),
    ):
        r = http.request(method, f"{V2}{path}", headers=tenant.scim_headers())
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        body = r.json()
        assert set(body) == {"error"}
        assert "OAuth" in body["error"]["message"]
        assert "SCIM" in body["error"]["message"]
    assert scim_get(http, tenant, f"/Users/{user['id']}")["active"] is True


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer ", "Bearer not-a-token", "Bearer rscim_" + "x" * 43],
    ids=["none", "empty", "garbage", "unknown-scim-token"],
)
def test_scim_without_a_valid_token_is_401(
    http: TestClient, tenant: TenantHandle, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    r = http.get(f"{SCIM}/Users", headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["schemas"] == [ERROR_SCHEMA]
    assert r.json()["status"] == "401"


def test_scim_token_of_one_tenant_reads_its_own_only(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """Two tenants each provisioning through SCIM: the same userName in both is no clash."""
    user_name = f"shared.{uuid.uuid4().hex[:8]}"
    a = scim_post(http, tenant, "/Users", _scim_user(userName=user_name))
    b = scim_post(http, other_tenant, "/Users", _scim_user(userName=user_name))
    assert a["id"] != b["id"]
    for handle, expected in ((tenant, a["id"]), (other_tenant, b["id"])):
        r = http.get(
            f"{SCIM}/Users",
            params={"filter": f'userName eq "{user_name}"'},
            headers=handle.scim_headers(),
        )
        assert [u["id"] for u in r.json()["Resources"]] == [expected]
