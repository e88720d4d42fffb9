"""Okta's SCIM 2.0 provisioning sequence, replayed request by request.

The requests are the ones Okta's "SCIM 2.0 protocol" reference documents for an app
integration: the connection test, the import lookup by userName, create, read, profile
push by PUT, deactivate and reactivate by a path-less PATCH, and Push Groups (create,
look up, rename, add and remove members, delete). Bodies keep Okta's shape, including the
attributes rosterd does not store (``password``, an empty ``groups``), and Okta's own
``Content-Type: application/scim+json``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.testclient import TestClient

from tests.api.scim.support import (
    GROUP_SCHEMA,
    LIST_SCHEMA,
    SCIM,
    USER_SCHEMA,
    member_ids,
    patch_group,
    scim_patch,
    v2_get,
)
from tests.factories import TenantHandle


def _okta_user(user_name: str, *, given: str = "Test", family: str = "User") -> dict[str, Any]:
    """The body Okta POSTs to /Users (its reference's example, with our own names; the
    example itself, ``@okta.local`` included, is replayed in test_idp_payloads)."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": "00u" + secrets.token_hex(8),
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def _lookup(http: TestClient, tenant: TenantHandle, user_name: str) -> dict[str, Any]:
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{user_name}"', "startIndex": 1, "count": 100},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    return dict(body)


# ---- users ---------------------------------------------------------------------------------


def test_connection_test_lists_one_user(http: TestClient, tenant: TenantHandle) -> None:
    """Okta's "Test Connector Configuration": GET /Users?startIndex=1&count=1."""
    r = http.get(
        f"{SCIM}/Users", params={"startIndex": 1, "count": 1}, headers=tenant.scim_headers()
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == 0
    assert body["startIndex"] == 1
    assert body["itemsPerPage"] == 0
    assert body.get("Resources", []) == []

    for _ in range(2):
        r = http.post(
            f"{SCIM}/Users",
            json=_okta_user(f"u{secrets.token_hex(4)}@example.com"),
            headers=tenant.scim_headers(),
        )
        assert r.status_code == 201, r.text
    r = http.get(
        f"{SCIM}/Users", params={"startIndex": 1, "count": 1}, headers=tenant.scim_headers()
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalResults"] == 2
    assert body["itemsPerPage"] == 1
    assert len(body["Resources"]) == 1
    assert body["Resources"][0]["schemas"][0] == USER_SCHEMA


def test_user_lifecycle(http: TestClient, tenant: TenantHandle) -> None:
    user_name = f"test.user.{secrets.token_hex(4)}@example.com"

    # Import / lookup before create: nobody by that userName yet.
    empty = _lookup(http, tenant, user_name)
    assert empty["totalResults"] == 0
    assert empty.get("Resources", []) == []

    # Create.
    body = _okta_user(user_name)
    r = http.post(f"{SCIM}/Users", json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    created = r.json()
    user_id = created["id"]
    assert r.headers["Location"] == created["meta"]["location"]
    assert created["meta"]["location"].endswith(f"/scim/v2/Users/{user_id}")
    assert created["meta"]["resourceType"] == "User"
    assert r.headers["ETag"] == created["meta"]["version"]
    assert created["userName"] == user_name
    assert created["name"]["givenName"] == "Test"
    assert created["name"]["familyName"] == "User"
    assert created["emails"] == [{"value": user_name, "type": "work", "primary": True}]
    assert created["displayName"] == "Test User"
    assert created["locale"] == "en-US"
    assert created["externalId"] == body["externalId"]
    assert created["active"] is True
    assert "password" not in created  # writeOnly: never returned

    # Lookup again: found, with the id Okta will use from now on.
    found = _lookup(http, tenant, user_name)
    assert found["totalResults"] == 1
    assert [u["id"] for u in found["Resources"]] == [user_id]
    assert found["Resources"][0]["userName"] == user_name
    # Okta matches userName case-insensitively (RFC 7643: userName is caseExact false).
    assert _lookup(http, tenant, user_name.upper())["totalResults"] == 1

    # Read.
    r = http.get(f"{SCIM}/Users/{user_id}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == user_id
    assert got["userName"] == user_name
    assert got["active"] is True
    assert "password" not in got

    # Profile push: Okta PUTs the whole user, id and meta included.
    put_body = {
        **_okta_user(user_name, given="Another", family="Person"),
        "id": user_id,
        "externalId": body["externalId"],
        "meta": {"resourceType": "User"},
    }
    put_body["emails"] = [{"primary": True, "value": f"renamed.{user_name}", "type": "work"}]
    put_body["locale"] = "fr-FR"
    r = http.put(f"{SCIM}/Users/{user_id}", json=put_body, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    replaced = r.json()
    assert replaced["id"] == user_id
    assert replaced["name"]["givenName"] == "Another"
    assert replaced["name"]["familyName"] == "Person"
    assert replaced["displayName"] == "Another Person"
    assert replaced["emails"] == [
        {"value": f"renamed.{user_name}", "type": "work", "primary": True}
    ]
    assert replaced["locale"] == "fr-FR"
    assert replaced["active"] is True
    assert replaced["meta"]["version"] != created["meta"]["version"]

    # Deactivate: a path-less replace of active.
    deactivated = scim_patch(
        http, tenant, f"/Users/{user_id}", {"op": "replace", "value": {"active": False}}
    )
    assert deactivated["active"] is False
    assert deactivated["name"]["givenName"] == "Another"  # nothing else changed
    r = http.get(f"{SCIM}/Users/{user_id}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert _lookup(http, tenant, user_name)["Resources"][0]["active"] is False
    v2 = v2_get(http, tenant, f"/users/{user_id}", "user:read")
    assert v2["status"] == "inactive"
    assert v2["isActive"] is False
    assert v2["email"] == f"renamed.{user_name}"

    # Reactivate the same way.
    reactivated = scim_patch(
        http, tenant, f"/Users/{user_id}", {"op": "replace", "value": {"active": True}}
    )
    assert reactivated["active"] is True
    r = http.get(f"{SCIM}/Users/{user_id}", headers=tenant.scim_headers())
    assert r.json()["active"] is True
    v2 = v2_get(http, tenant, f"/users/{user_id}", "user:read")
    assert v2["status"] == "active"
    assert v2["isActive"] is True


def test_create_duplicate_username_is_409_uniqueness(
    http: TestClient, tenant: TenantHandle
) -> None:
    """Okta reads a 409 on create as "the user already exists" and falls back to a lookup."""
    user_name = f"dup.{secrets.token_hex(4)}@example.com"
    r = http.post(f"{SCIM}/Users", json=_okta_user(user_name), headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    second = _okta_user(user_name)
    second["emails"] = [{"primary": True, "value": f"other.{user_name}", "type": "work"}]
    r = http.post(f"{SCIM}/Users", json=second, headers=tenant.scim_headers())
    assert r.status_code == 409, r.text
    err = r.json()
    assert err["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert err["status"] == "409"
    assert err["scimType"] == "uniqueness"
    assert _lookup(http, tenant, user_name)["totalResults"] == 1


# ---- Push Groups ---------------------------------------------------------------------------


def test_push_groups(http: TestClient, tenant: TenantHandle) -> None:
    users = []
    for _ in range(3):
        r = http.post(
            f"{SCIM}/Users",
            json=_okta_user(f"member.{secrets.token_hex(4)}@example.com"),
            headers=tenant.scim_headers(),
        )
        assert r.status_code == 201, r.text
        users.append(r.json())
    alice, bob, carol = users
    name = f"Test SCIMv2 {secrets.token_hex(3)}"

    # Lookup before push: nothing by that displayName.
    r = http.get(
        f"{SCIM}/Groups",
        params={"filter": f'displayName eq "{name}"', "startIndex": 1, "count": 100},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == 0

    # Create with members.
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [
                {"value": alice["id"], "display": alice["userName"]},
                {"value": bob["id"], "display": bob["userName"]},
            ],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text
    group = r.json()
    group_id = group["id"]
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["displayName"] == name
    assert member_ids(group) == {alice["id"], bob["id"]}
    assert r.headers["Location"] == group["meta"]["location"]
    assert group["meta"]["resourceType"] == "Group"

    # Lookup by displayName: found.
    r = http.get(
        f"{SCIM}/Groups",
        params={"filter": f'displayName eq "{name}"'},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["totalResults"] == 1
    assert page["Resources"][0]["id"] == group_id
    assert page["Resources"][0]["displayName"] == name

    # Rename: a path-less replace that repeats the group's id.
    new_name = f"{name} renamed"
    renamed = patch_group(
        http,
        tenant,
        group_id,
        {"op": "replace", "value": {"id": group_id, "displayName": new_name}},
    )
    assert renamed["id"] == group_id
    assert renamed["displayName"] == new_name
    assert member_ids(renamed) == {alice["id"], bob["id"]}

    # Add a member.
    added = patch_group(
        http,
        tenant,
        group_id,
        {
            "op": "add",
            "path": "members",
            "value": [{"value": carol["id"], "display": carol["userName"]}],
        },
    )
    assert member_ids(added) == {alice["id"], bob["id"], carol["id"]}

    # Remove a member by a value filter in the path.
    removed = patch_group(
        http, tenant, group_id, {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}
    )
    assert member_ids(removed) == {bob["id"], carol["id"]}
    assert removed["displayName"] == new_name

    # The stored state, as a plain GET and from the users' side.
    r = http.get(f"{SCIM}/Groups/{group_id}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert member_ids(r.json()) == {bob["id"], carol["id"]}
    assert r.json()["displayName"] == new_name
    for user, member in ((alice, False), (bob, True), (carol, True)):
        r = http.get(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
        groups = {g["value"] for g in r.json().get("groups", [])}
        assert (group_id in groups) is member, (user["userName"], groups)

    # The old name no longer finds it; the new one does.
    for filter_name, total in ((name, 0), (new_name, 1)):
        r = http.get(
            f"{SCIM}/Groups",
            params={"filter": f'displayName eq "{filter_name}"'},
            headers=tenant.scim_headers(),
        )
        assert r.json()["totalResults"] == total

    # Delete.
    r = http.delete(f"{SCIM}/Groups/{group_id}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    assert r.content == b""
    r = http.get(f"{SCIM}/Groups/{group_id}", headers=tenant.scim_headers())
    assert r.status_code == 404, r.text
    assert r.json()["status"] == "404"
    # The members themselves stay, without the membership.
    r = http.get(f"{SCIM}/Users/{bob['id']}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert group_id not in {g["value"] for g in r.json().get("groups", [])}
