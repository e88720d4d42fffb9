"""/scim/v2/Groups (RFC 7643 §4.2, RFC 7644 §3): create, read, replace, modify members
by PATCH and PUT, refuse members that do not exist without changing anything, delete.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from scim2_models import Context, Group, PatchOp

from rosterd.api.scim.policy import PATCH_POLICY
from tests.api.scim.support import (
    GROUP_SCHEMA,
    LIST_SCHEMA,
    MISSING_ID,
    PATCH_SCHEMA,
    SCIM,
    SCIM_JSON,
    USER_SCHEMA,
    member_ids,
    patch_group,
    patch_op,
    scim_error,
)
from tests.factories import TenantHandle

GROUPS = f"{SCIM}/Groups"
USERS = f"{SCIM}/Users"


# ---- helpers -------------------------------------------------------------------------------


def _user(http: TestClient, tenant: TenantHandle, name: str | None = None) -> str:
    body = {"schemas": [USER_SCHEMA], "userName": name or f"u-{secrets.token_hex(4)}"}
    r = http.post(USERS, json=body, headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _group_body(name: str, members: list[str] | None = None, **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "displayName": name, **attrs}
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    return body


def _create(
    http: TestClient,
    tenant: TenantHandle,
    name: str,
    members: list[str] | None = None,
    **attrs: Any,
) -> dict[str, Any]:
    r = http.post(GROUPS, json=_group_body(name, members, **attrs), headers=tenant.scim_headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _get(http: TestClient, tenant: TenantHandle, group_id: str, **params: Any) -> dict[str, Any]:
    r = http.get(f"{GROUPS}/{group_id}", params=params, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == r.json()["meta"]["version"]
    return dict(r.json())


def _patch(
    http: TestClient,
    tenant: TenantHandle,
    group_id: str,
    *operations: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> Response:
    return http.patch(
        f"{GROUPS}/{group_id}",
        json=patch_op(*operations),
        headers={**tenant.scim_headers(), **(headers or {})},
    )


def _list(http: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = http.get(GROUPS, params=params, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    return dict(body)


def _group_ids_of_user(http: TestClient, tenant: TenantHandle, user_id: str) -> set[str]:
    r = http.get(f"{USERS}/{user_id}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return {g["value"] for g in r.json().get("groups", [])}


# ---- create and read -----------------------------------------------------------------------


def test_create_with_members(http: TestClient, tenant: TenantHandle) -> None:
    alice, bob = _user(http, tenant, "alice"), _user(http, tenant, "bob")
    r = http.post(
        GROUPS,
        json=_group_body("Engineering", [alice, bob], externalId="okta-00g1"),
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    group = r.json()
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["displayName"] == "Engineering"
    assert group["externalId"] == "okta-00g1"
    meta = group["meta"]
    assert meta["resourceType"] == "Group"
    assert meta["location"] == f"http://testserver{GROUPS}/{group['id']}"
    assert r.headers["Location"] == meta["location"]
    assert r.headers["ETag"] == meta["version"]
    datetime.fromisoformat(meta["created"])
    members = {m["value"]: m for m in group["members"]}
    assert set(members) == {alice, bob}
    assert members[alice]["display"] == "alice"
    assert members[alice]["type"] == "User"
    assert members[alice]["$ref"].endswith(f"/Users/{alice}")

    assert _get(http, tenant, group["id"]) == group
    # the users see the group as a read-only "groups" value
    assert _group_ids_of_user(http, tenant, alice) == {group["id"]}


def test_create_without_members(http: TestClient, tenant: TenantHandle) -> None:
    group = _create(http, tenant, "Empty")
    assert "members" not in group
    assert _create(http, tenant, "Also empty", [])["displayName"] == "Also empty"


def test_create_with_a_missing_member_creates_nothing(
    http: TestClient, tenant: TenantHandle
) -> None:
    alice = _user(http, tenant)
    for bad in (MISSING_ID, "not-a-uuid"):
        r = http.post(
            GROUPS, json=_group_body("Ghosts", [alice, bad]), headers=tenant.scim_headers()
        )
        err = scim_error(r, 400, "invalidValue")
        assert bad in err["detail"]
    assert _list(http, tenant)["totalResults"] == 0
    assert _group_ids_of_user(http, tenant, alice) == set()


def test_duplicate_display_name_is_a_conflict(http: TestClient, tenant: TenantHandle) -> None:
    _create(http, tenant, "Sales")
    for name in ("Sales", "sales", "SALES"):
        r = http.post(GROUPS, json=_group_body(name), headers=tenant.scim_headers())
        scim_error(r, 409, "uniqueness")
    assert _list(http, tenant)["totalResults"] == 1


def test_rename_to_a_taken_display_name_is_a_conflict(
    http: TestClient, tenant: TenantHandle
) -> None:
    _create(http, tenant, "Taken")
    group = _create(http, tenant, "Free")
    before = _get(http, tenant, group["id"])
    r = _patch(
        http, tenant, group["id"], {"op": "replace", "path": "displayName", "value": "taken"}
    )
    scim_error(r, 409, "uniqueness")
    r = http.put(
        f"{GROUPS}/{group['id']}", json=_group_body("TAKEN"), headers=tenant.scim_headers()
    )
    scim_error(r, 409, "uniqueness")
    assert _get(http, tenant, group["id"]) == before


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (b"{nope", "invalidSyntax"),
        ({"schemas": ["urn:example:Group"], "displayName": "x"}, "invalidSyntax"),
        ({"schemas": [GROUP_SCHEMA]}, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": ""}, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "x", "members": "all"}, "invalidValue"),
        ({"schemas": [GROUP_SCHEMA], "displayName": "x", "unknownAttr": 1}, "invalidSyntax"),
    ],
)
def test_bad_group_body_is_refused(
    http: TestClient, tenant: TenantHandle, body: Any, scim_type: str
) -> None:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = http.post(GROUPS, headers=tenant.scim_headers(), **kwargs)
    scim_error(r, 400, scim_type)
    assert _list(http, tenant)["totalResults"] == 0


# ---- PATCH members -------------------------------------------------------------------------


def test_patch_adds_members(http: TestClient, tenant: TenantHandle) -> None:
    a, b, c = (_user(http, tenant) for _ in range(3))
    group = _create(http, tenant, "G", [a])
    patched = patch_group(
        http,
        tenant,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": b}, {"value": c}]},
    )
    assert member_ids(patched) == {a, b, c}
    # adding someone who is already a member changes nothing (IdPs retry)
    again = patch_group(
        http, tenant, group["id"], {"op": "add", "path": "members", "value": [{"value": a}]}
    )
    assert member_ids(again) == {a, b, c}
    assert _group_ids_of_user(http, tenant, c) == {group["id"]}


def test_patch_removes_members(http: TestClient, tenant: TenantHandle) -> None:
    a, b, c = (_user(http, tenant) for _ in range(3))
    group = _create(http, tenant, "G", [a, b, c])
    # Okta's form: a value filter in the path
    patched = patch_group(
        http, tenant, group["id"], {"op": "remove", "path": f'members[value eq "{a}"]'}
    )
    assert member_ids(patched) == {b, c}
    # Entra ID's form: the members to remove in "value"
    patched = patch_group(
        http, tenant, group["id"], {"op": "remove", "path": "members", "value": [{"value": b}]}
    )
    assert member_ids(patched) == {c}
    # everyone
    patched = patch_group(http, tenant, group["id"], {"op": "remove", "path": "members"})
    assert member_ids(patched) == set()
    for user in (a, b, c):
        assert _group_ids_of_user(http, tenant, user) == set()


def test_patch_replaces_members_and_name(http: TestClient, tenant: TenantHandle) -> None:
    a, b, c = (_user(http, tenant) for _ in range(3))
    group = _create(http, tenant, "Old name", [a, b])
    patched = patch_group(
        http,
        tenant,
        group["id"],
        {"op": "replace", "path": "members", "value": [{"value": b}, {"value": c}]},
        {"op": "replace", "path": "displayName", "value": "New name"},
    )
    assert member_ids(patched) == {b, c}
    assert patched["displayName"] == "New name"
    # Okta's rename: a path-less replace
    renamed = patch_group(
        http, tenant, group["id"], {"op": "replace", "value": {"displayName": "Newer"}}
    )
    assert renamed["displayName"] == "Newer"
    assert member_ids(renamed) == {b, c}


def test_member_changes_change_the_version(http: TestClient, tenant: TenantHandle) -> None:
    """Members are part of the group: its ETag and lastModified must move with them."""
    a, b = _user(http, tenant), _user(http, tenant)
    group = _create(http, tenant, "G", [a])
    first = group["meta"]["version"]
    added = patch_group(
        http, tenant, group["id"], {"op": "add", "path": "members", "value": [{"value": b}]}
    )
    assert added["meta"]["version"] != first
    assert added["meta"]["lastModified"] >= group["meta"]["lastModified"]
    # a client holding the old version is told it is stale
    r = _patch(
        http,
        tenant,
        group["id"],
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        headers={"If-Match": first},
    )
    scim_error(r, 412)
    assert member_ids(_get(http, tenant, group["id"])) == {a, b}
    removed = patch_group(
        http, tenant, group["id"], {"op": "remove", "path": f'members[value eq "{a}"]'}
    )
    assert removed["meta"]["version"] not in (first, added["meta"]["version"])


@pytest.mark.parametrize("bad", [MISSING_ID, "not-a-uuid"])
def test_patch_with_a_missing_member_changes_nothing(
    http: TestClient, tenant: TenantHandle, bad: str
) -> None:
    a, b = _user(http, tenant), _user(http, tenant)
    group = _create(http, tenant, "Stable", [a])
    before = _get(http, tenant, group["id"])
    r = _patch(
        http,
        tenant,
        group["id"],
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "add", "path": "members", "value": [{"value": b}, {"value": bad}]},
    )
    err = scim_error(r, 400, "invalidValue")
    assert bad in err["detail"]
    assert _get(http, tenant, group["id"]) == before
    assert _group_ids_of_user(http, tenant, b) == set()


def test_another_tenants_user_cannot_be_a_member(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = _user(http, other_tenant)
    group = _create(http, tenant, "Mine")
    r = _patch(
        http, tenant, group["id"], {"op": "add", "path": "members", "value": [{"value": theirs}]}
    )
    scim_error(r, 400, "invalidValue")
    assert member_ids(_get(http, tenant, group["id"])) == set()
    r = http.post(GROUPS, json=_group_body("Other", [theirs]), headers=tenant.scim_headers())
    scim_error(r, 400, "invalidValue")


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "id", "value": MISSING_ID}, "mutability"),
        ({"op": "replace", "path": "meta", "value": {}}, "mutability"),
        ({"op": "replace", "path": "nosuch", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "displayName", "value": ""}, "invalidValue"),
        # removing a required attribute: RFC 7644 names no scimType for it; scim2-models
        # answers "mutability", "invalidValue" ("a required value was missing") fits too
        ({"op": "remove", "path": "displayName"}, {"mutability", "invalidValue"}),
        ({"op": "remove"}, "noTarget"),
    ],
)
def test_bad_patch_changes_nothing(
    http: TestClient,
    tenant: TenantHandle,
    operation: dict[str, Any],
    scim_type: str | set[str],
) -> None:
    a = _user(http, tenant)
    group = _create(http, tenant, "Stable", [a])
    before = _get(http, tenant, group["id"])
    err = scim_error(_patch(http, tenant, group["id"], operation), 400)
    expected = {scim_type} if isinstance(scim_type, str) else scim_type
    assert err.get("scimType") in expected, err
    assert _get(http, tenant, group["id"]) == before


# ---- PUT -----------------------------------------------------------------------------------


def test_put_replaces_name_and_members(http: TestClient, tenant: TenantHandle) -> None:
    a, b, c = (_user(http, tenant) for _ in range(3))
    group = _create(http, tenant, "Before", [a, b], externalId="ext-1")
    r = http.put(
        f"{GROUPS}/{group['id']}",
        json=_group_body("After", [b, c]),
        headers={**tenant.scim_headers(), "If-Match": group["meta"]["version"]},
    )
    assert r.status_code == 200, r.text
    replaced = r.json()
    assert r.headers["ETag"] == replaced["meta"]["version"] != group["meta"]["version"]
    assert replaced["displayName"] == "After"
    assert member_ids(replaced) == {b, c}
    assert "externalId" not in replaced  # omitted on PUT: cleared
    assert _get(http, tenant, group["id"]) == replaced
    assert _group_ids_of_user(http, tenant, a) == set()

    r = http.put(
        f"{GROUPS}/{group['id']}", json=_group_body("After"), headers=tenant.scim_headers()
    )
    assert r.status_code == 200, r.text
    assert member_ids(r.json()) == set()


def test_put_with_a_missing_member_changes_nothing(http: TestClient, tenant: TenantHandle) -> None:
    a, b = _user(http, tenant), _user(http, tenant)
    group = _create(http, tenant, "Stable", [a])
    before = _get(http, tenant, group["id"])
    r = http.put(
        f"{GROUPS}/{group['id']}",
        json=_group_body("Renamed", [b, MISSING_ID]),
        headers=tenant.scim_headers(),
    )
    scim_error(r, 400, "invalidValue")
    assert _get(http, tenant, group["id"]) == before


def test_put_with_a_stale_version_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    group = _create(http, tenant, "G")
    stale = group["meta"]["version"]
    patch_group(http, tenant, group["id"], {"op": "replace", "path": "displayName", "value": "H"})
    before = _get(http, tenant, group["id"])
    r = http.put(
        f"{GROUPS}/{group['id']}",
        json=_group_body("I"),
        headers={**tenant.scim_headers(), "If-Match": stale},
    )
    scim_error(r, 412)
    assert _get(http, tenant, group["id"]) == before


# ---- excludedAttributes=members (how Entra ID lists groups) --------------------------------


def test_excluded_members(http: TestClient, tenant: TenantHandle) -> None:
    a = _user(http, tenant)
    group = _create(http, tenant, "Big", [a])
    one = _get(http, tenant, group["id"], excludedAttributes="members")
    assert "members" not in one
    assert one["displayName"] == "Big"
    assert one["id"] == group["id"]

    page = _list(http, tenant, excludedAttributes="members")
    assert page["totalResults"] == 1
    (listed,) = page["Resources"]
    assert "members" not in listed
    assert listed["displayName"] == "Big"

    page = _list(http, tenant, attributes="displayName")
    (listed,) = page["Resources"]
    assert set(listed) <= {"schemas", "id", "displayName"}

    page = _list(http, tenant, filter='displayName eq "big"', excludedAttributes="members")
    assert [g["id"] for g in page["Resources"]] == [group["id"]]
    # the members are still there
    assert member_ids(_get(http, tenant, group["id"])) == {a}


def test_list_groups_sorted_and_paged(http: TestClient, tenant: TenantHandle) -> None:
    for name in ("charlie", "Alpha", "bravo"):
        _create(http, tenant, name)
    page = _list(http, tenant, sortBy="displayName")
    assert [g["displayName"] for g in page["Resources"]] == ["Alpha", "bravo", "charlie"]
    page = _list(http, tenant, sortBy="displayName", sortOrder="descending", count=2)
    assert page["totalResults"] == 3
    assert page["itemsPerPage"] == 2
    assert [g["displayName"] for g in page["Resources"]] == ["charlie", "bravo"]


# ---- DELETE --------------------------------------------------------------------------------


def test_delete(http: TestClient, tenant: TenantHandle) -> None:
    a = _user(http, tenant)
    group = _create(http, tenant, "Doomed", [a])
    keep = _create(http, tenant, "Kept", [a])
    r = http.delete(f"{GROUPS}/{group['id']}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    scim_error(http.get(f"{GROUPS}/{group['id']}", headers=tenant.scim_headers()), 404)
    scim_error(http.delete(f"{GROUPS}/{group['id']}", headers=tenant.scim_headers()), 404)
    assert [g["id"] for g in _list(http, tenant)["Resources"]] == [keep["id"]]
    # the member is still there, in the group that remains only
    assert _group_ids_of_user(http, tenant, a) == {keep["id"]}
    # and the name is free again
    _create(http, tenant, "Doomed")


def test_delete_with_a_stale_version_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    group = _create(http, tenant, "G")
    r = http.delete(
        f"{GROUPS}/{group['id']}", headers={**tenant.scim_headers(), "If-Match": 'W/"999"'}
    )
    scim_error(r, 412)
    _get(http, tenant, group["id"])


@pytest.mark.parametrize("group_id", [MISSING_ID, "not-a-uuid"])
def test_unknown_group_is_404(http: TestClient, tenant: TenantHandle, group_id: str) -> None:
    headers = tenant.scim_headers()
    url = f"{GROUPS}/{group_id}"
    scim_error(http.get(url, headers=headers), 404)
    scim_error(http.put(url, json=_group_body("x"), headers=headers), 404)
    scim_error(_patch(http, tenant, group_id, {"op": "remove", "path": "members"}), 404)
    scim_error(http.delete(url, headers=headers), 404)
    assert _list(http, tenant)["totalResults"] == 0


def test_another_tenants_group_is_not_found(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    theirs = _create(http, other_tenant, "Theirs")
    url = f"{GROUPS}/{theirs['id']}"
    scim_error(http.get(url, headers=tenant.scim_headers()), 404)
    scim_error(http.delete(url, headers=tenant.scim_headers()), 404)
    assert _get(http, other_tenant, theirs["id"]) == theirs
    # and the name is only taken in the other tenant
    _create(http, tenant, "Theirs")


def test_alias_serves_the_same_groups(http: TestClient, tenant: TenantHandle) -> None:
    a = _user(http, tenant)
    r = http.post(
        "/api/scim/v2/Groups", json=_group_body("Aliased", [a]), headers=tenant.scim_headers()
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith("http://testserver/api/scim/v2/Groups/")
    group = r.json()
    assert member_ids(_get(http, tenant, group["id"])) == {a}
    r = http.post("/api/scim/v2/Groups", json=_group_body("aliased"), headers=tenant.scim_headers())
    scim_error(r, 409, "uniqueness")


# ---- PATCH answers -------------------------------------------------------------------------


def test_patch_answers_the_group_when_attributes_are_asked_for(
    http: TestClient, tenant: TenantHandle
) -> None:
    """RFC 7644 §3.5.2: 200 with the resource when the request names attributes."""
    a, b = _user(http, tenant), _user(http, tenant)
    group = _create(http, tenant, "G", [a])
    add_b = {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": b}]}],
    }
    r = http.patch(
        f"{GROUPS}/{group['id']}",
        params={"attributes": "members,displayName"},
        json=add_b,
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    body = r.json()
    assert member_ids(body) == {a, b}
    assert body["displayName"] == "G"
    assert r.headers["ETag"] == _get(http, tenant, group["id"])["meta"]["version"]

    r = http.patch(
        f"{GROUPS}/{group['id']}",
        params={"excludedAttributes": "members"},
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert "members" not in r.json()
    assert r.json()["displayName"] == "Renamed"
    assert member_ids(_get(http, tenant, group["id"])) == {a, b}


@pytest.mark.parametrize(
    "operations",
    [
        # Entra ID's path-less add and replace, with the attribute name capitalised
        [{"op": "Add", "value": {"Members": [{"value": "{c}"}]}}],
        # Okta's remove of several by one filter
        [{"op": "remove", "path": 'members[value eq "{a}" or value eq "{b}"]'}],
        # a filter on another sub-attribute than value
        [{"op": "remove", "path": 'members[display eq "alice"]'}],
        # the operations apply in order
        [
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"value": "{b}"}]},
        ],
        [
            {"op": "add", "path": "members", "value": [{"value": "{c}"}]},
            {"op": "remove", "path": 'members[value eq "{c}"]'},
            {"op": "replace", "value": {"displayName": "R", "members": [{"value": "{a}"}]}},
        ],
    ],
)
def test_member_operation_forms(
    http: TestClient, tenant: TenantHandle, operations: list[dict[str, Any]]
) -> None:
    a, b, c = _user(http, tenant, "alice"), _user(http, tenant, "bob"), _user(http, tenant)
    ids = {"{a}": a, "{b}": b, "{c}": c}

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for key, uid in ids.items():
                value = value.replace(key, uid)
            return value
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    ops = fill(operations)
    group = _create(http, tenant, "G", [a, b])
    # What the same operations do to the group's full SCIM view, in scim2-models.
    view = Group.model_validate(
        {k: v for k, v in group.items() if k != "meta"}, scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
    with PATCH_POLICY:
        PatchOp[Group].model_validate(
            {"schemas": [PATCH_SCHEMA], "Operations": ops}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        ).patch(view)
    expected = {m.value for m in view.members or []}

    patched = patch_group(http, tenant, group["id"], *ops)
    assert member_ids(patched) == expected
    assert patched["displayName"] == view.display_name
    for user in (a, b, c):
        assert (group["id"] in _group_ids_of_user(http, tenant, user)) is (user in expected)


def test_idempotent_member_changes_change_nothing(http: TestClient, tenant: TenantHandle) -> None:
    """IdPs retry: adding a member again or removing a non-member is a 204 that changes
    neither the members nor the version."""
    a, b = _user(http, tenant), _user(http, tenant)
    group = _create(http, tenant, "G", [a])
    before = _get(http, tenant, group["id"])
    for op in (
        {"op": "add", "path": "members", "value": [{"value": a}]},
        {"op": "remove", "path": f'members[value eq "{b}"]'},
        {"op": "remove", "path": "members", "value": [{"value": MISSING_ID}]},
    ):
        assert patch_group(http, tenant, group["id"], op) == before
