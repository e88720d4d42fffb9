"""Microsoft Entra ID's provisioning sequence, replayed request by request.

The requests follow Microsoft's "Develop a SCIM endpoint" walkthrough and its "Known issues
and resolutions with SCIM 2.0 compliance" page: the connection test with a random userName,
create with the enterprise extension, and the PATCH dialect Entra speaks — capitalised
``op`` values, ``"False"`` as a string, ``emails[type eq "work"].value`` on a user without
emails, path-less values with dotted keys, the manager as a bare id (with and without its
URN), a ``Remove`` of members that lists them in ``value`` — then groups and DELETE.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi.testclient import TestClient

from rosterd.services import tenants as tenants_service
from tests.api.scim.support import (
    ENTERPRISE,
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    LIST_SCHEMA,
    PATCH_SCHEMA,
    SCIM,
    USER_SCHEMA,
    member_ids,
    patch_group,
    scim_get,
    scim_patch,
    scim_post,
)
from tests.factories import V2, TenantHandle

# The attribute-less marker schema Microsoft's example (and its classic client) sends on
# group creation.
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def _entra_user(**overrides: Any) -> dict[str, Any]:
    """The body Entra ID POSTs to /Users, with the enterprise extension (manager omitted:
    Entra sends it afterwards by PATCH, once both users exist)."""
    n = secrets.token_hex(4)
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": f"Test_User_{n}@contoso.com",
        "active": True,
        "displayName": f"Test User {n}",
        "emails": [{"primary": True, "type": "work", "value": f"test_user_{n}@contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Test User{n}", "familyName": f"User{n}", "givenName": "Test"},
        "title": "Engineer",
        "roles": [],
        ENTERPRISE: {"department": "Research", "employeeNumber": f"E{n}"},
    }
    body.update(overrides)
    return body


# ---- users ---------------------------------------------------------------------------------


def test_connection_test_with_random_username(http: TestClient, tenant: TenantHandle) -> None:
    scim_post(http, tenant, "/Users", _entra_user())  # a user that must not match
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{uuid.uuid4()}"'},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == 0
    assert body.get("Resources", []) == []


def test_create_with_enterprise_extension(http: TestClient, tenant: TenantHandle) -> None:
    body = _entra_user()
    created = scim_post(http, tenant, "/Users", body)
    assert set(created["schemas"]) == {USER_SCHEMA, ENTERPRISE}
    assert created["externalId"] == body["externalId"]
    assert created["userName"] == body["userName"]
    assert created["active"] is True
    assert created["displayName"] == body["displayName"]
    assert created["emails"] == [
        {"value": body["emails"][0]["value"], "type": "work", "primary": True}
    ]
    assert created["name"]["givenName"] == "Test"
    assert created["name"]["familyName"] == body["name"]["familyName"]
    assert created["title"] == "Engineer"
    assert created[ENTERPRISE]["department"] == "Research"
    assert created[ENTERPRISE]["employeeNumber"] == body[ENTERPRISE]["employeeNumber"]
    assert "manager" not in created[ENTERPRISE]

    # Entra's next lookup goes by userName, then by the id it now holds.
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{body["userName"]}"'},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["Resources"]] == [created["id"]]
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    assert got[ENTERPRISE]["department"] == "Research"
    assert got["title"] == "Engineer"


def test_patch_with_capitalised_ops(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _entra_user())
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{user['id']}",
        {"op": "Replace", "path": "displayName", "value": "Renamed"},
        {"op": "Add", "path": "title", "value": "Principal Engineer"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Sales"},
        {"op": "Remove", "path": f"{ENTERPRISE}:employeeNumber"},
    )
    assert patched["displayName"] == "Renamed"
    assert patched["title"] == "Principal Engineer"
    assert patched[ENTERPRISE]["department"] == "Sales"
    assert "employeeNumber" not in patched[ENTERPRISE]

    got = scim_get(http, tenant, f"/Users/{user['id']}")
    assert got["displayName"] == "Renamed"
    assert got["title"] == "Principal Engineer"
    assert got[ENTERPRISE]["department"] == "Sales"
    assert "employeeNumber" not in got[ENTERPRISE]
    assert got["userName"] == user["userName"]  # untouched


def test_active_false_as_string_deactivates(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _entra_user())
    patched = scim_patch(
        http, tenant, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert patched["active"] is False
    assert scim_get(http, tenant, f"/Users/{user['id']}")["active"] is False
    r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "inactive"

    patched = scim_patch(
        http, tenant, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "True"}
    )
    assert patched["active"] is True
    assert scim_get(http, tenant, f"/Users/{user['id']}")["active"] is True


def test_add_work_email_to_user_without_emails(http: TestClient, tenant: TenantHandle) -> None:
    body = _entra_user()
    del body["emails"]
    user = scim_post(http, tenant, "/Users", body)
    assert "emails" not in user

    address = f"added_{secrets.token_hex(4)}@contoso.com"
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{user['id']}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": address},
    )
    assert [e["value"] for e in patched["emails"]] == [address]
    assert patched["emails"][0]["type"] == "work"
    assert scim_get(http, tenant, f"/Users/{user['id']}")["emails"][0]["value"] == address
    r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
    assert r.json()["email"] == address

    # Once it exists, Entra changes it with Replace, and sometimes with Add again: both
    # change the one work email rather than adding a second.
    for op in ("Replace", "Add"):
        other = f"{op.lower()}_{secrets.token_hex(4)}@contoso.com"
        patched = scim_patch(
            http,
            tenant,
            f"/Users/{user['id']}",
            {"op": op, "path": 'emails[type eq "work"].value', "value": other},
        )
        assert [e["value"] for e in patched["emails"]] == [other]
        r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
        assert r.json()["email"] == other


def test_pathless_replace_with_dotted_keys(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _entra_user())
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{user['id']}",
        {
            "op": "Replace",
            "value": {
                "name.givenName": "Xavier",
                "name.familyName": "Ypsilon",
                f"{ENTERPRISE}:department": "Yachting",
                "displayName": "Xavier Ypsilon",
            },
        },
    )
    assert patched["name"]["givenName"] == "Xavier"
    assert patched["name"]["familyName"] == "Ypsilon"
    assert patched[ENTERPRISE]["department"] == "Yachting"
    assert patched["displayName"] == "Xavier Ypsilon"
    # Attributes the operation did not name stay.
    assert patched["title"] == "Engineer"
    assert patched[ENTERPRISE]["employeeNumber"] == user[ENTERPRISE]["employeeNumber"]
    assert patched["emails"] == user["emails"]

    r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
    v2 = r.json()
    assert (v2["firstName"], v2["lastName"], v2["department"]) == ("Xavier", "Ypsilon", "Yachting")


def test_pathless_value_with_a_filtered_key(http: TestClient, tenant: TenantHandle) -> None:
    """With aadOptscim062020 Entra folds every changed attribute into one path-less value,
    the work email included as ``emails[type eq "work"].value``."""
    user = scim_post(http, tenant, "/Users", _entra_user())
    address = f"moved_{secrets.token_hex(4)}@contoso.com"
    external_id = str(uuid.uuid4())
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{user['id']}",
        {
            "op": "replace",
            "value": {
                "displayName": "Pvlo Gtfd",
                'emails[type eq "work"].value': address,
                "name.givenName": "Gtfd",
                "name.familyName": "Pkqf",
                "externalId": external_id,
                f"{ENTERPRISE}:employeeNumber": "E-42",
            },
        },
    )
    assert patched["emails"] == [{"value": address, "type": "work", "primary": True}]
    assert patched["displayName"] == "Pvlo Gtfd"
    assert (patched["name"]["givenName"], patched["name"]["familyName"]) == ("Gtfd", "Pkqf")
    assert patched["externalId"] == external_id
    assert patched[ENTERPRISE]["employeeNumber"] == "E-42"
    assert patched[ENTERPRISE]["department"] == "Research"
    got = scim_get(http, tenant, f"/Users/{user['id']}")
    assert got["emails"] == patched["emails"]
    assert got["externalId"] == external_id

    # The same on a user without any email yet: the filter creates the work email.
    body = _entra_user()
    del body["emails"]
    bare = scim_post(http, tenant, "/Users", body)
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{bare['id']}",
        {"op": "add", "value": {'emails[type eq "work"].value': address.replace("moved", "new")}},
    )
    assert [e["value"] for e in patched["emails"]] == [address.replace("moved", "new")]


def test_manager_as_bare_id(http: TestClient, tenant: TenantHandle) -> None:
    boss = scim_post(http, tenant, "/Users", _entra_user())
    deputy = scim_post(http, tenant, "/Users", _entra_user())
    user = scim_post(http, tenant, "/Users", _entra_user())
    path = f"/Users/{user['id']}"

    # With the full URN path, the value a bare id.
    patched = scim_patch(
        http, tenant, path, {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}
    )
    assert patched[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert scim_get(http, tenant, path)[ENTERPRISE]["manager"]["value"] == boss["id"]

    # With the path "manager", no URN.
    patched = scim_patch(
        http, tenant, path, {"op": "Replace", "path": "manager", "value": deputy["id"]}
    )
    assert patched[ENTERPRISE]["manager"]["value"] == deputy["id"]
    assert scim_get(http, tenant, path)[ENTERPRISE]["manager"]["value"] == deputy["id"]
    assert patched[ENTERPRISE]["department"] == "Research"  # the rest of the extension stays

    # Removed.
    patched = scim_patch(http, tenant, path, {"op": "Remove", "path": f"{ENTERPRISE}:manager"})
    assert "manager" not in patched.get(ENTERPRISE, {})
    assert "manager" not in scim_get(http, tenant, path).get(ENTERPRISE, {})

    # Set again without the URN, removed again without it.
    scim_patch(http, tenant, path, {"op": "Add", "path": "manager", "value": boss["id"]})
    assert scim_get(http, tenant, path)[ENTERPRISE]["manager"]["value"] == boss["id"]
    patched = scim_patch(http, tenant, path, {"op": "Remove", "path": "manager"})
    assert "manager" not in patched.get(ENTERPRISE, {})
    assert "manager" not in scim_get(http, tenant, path).get(ENTERPRISE, {})


def test_manager_that_does_not_exist_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _entra_user())
    r = http.patch(
        f"{SCIM}/Users/{user['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": str(uuid.uuid4())}
            ],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 400, r.text
    assert r.json()["schemas"] == [ERROR_SCHEMA]
    assert "manager" not in scim_get(http, tenant, f"/Users/{user['id']}").get(ENTERPRISE, {})


# ---- groups --------------------------------------------------------------------------------


def test_group_sequence(http: TestClient, tenant: TenantHandle) -> None:
    members = [scim_post(http, tenant, "/Users", _entra_user()) for _ in range(3)]
    first, second, third = (m["id"] for m in members)
    name = f"Group {secrets.token_hex(4)}"

    def lookup() -> dict[str, Any]:
        r = http.get(
            f"{SCIM}/Groups",
            params={"excludedAttributes": "members", "filter": f'displayName eq "{name}"'},
            headers=tenant.scim_headers(),
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert lookup()["totalResults"] == 0

    # Microsoft's documented create body, with the legacy ADSCIM marker schema.
    external_id = str(uuid.uuid4())
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "schemas": [GROUP_SCHEMA, ADSCIM_GROUP],
            "externalId": external_id,
            "displayName": name,
            "meta": {"resourceType": "Group"},
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text
    group = r.json()
    group_id = group["id"]
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["displayName"] == name
    assert group["externalId"] == external_id
    assert group.get("members", []) == []

    # A second group with the same displayName is a uniqueness conflict.
    r = http.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP_SCHEMA], "externalId": str(uuid.uuid4()), "displayName": name},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 409, r.text
    err = r.json()
    assert err["schemas"] == [ERROR_SCHEMA]
    assert err["status"] == "409"
    assert err["scimType"] == "uniqueness"

    found = lookup()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == group_id
    assert found["Resources"][0]["externalId"] == external_id

    # Add members, in two operations of one request as Entra batches them ("$ref": null as
    # Microsoft's example sends it).
    added = patch_group(
        http,
        tenant,
        group_id,
        {"op": "Add", "path": "members", "value": [{"value": first}]},
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": second}, {"$ref": None, "value": third}],
        },
    )
    assert member_ids(added) == {first, second, third}
    # The lookup leaves members out when asked to, even once there are some.
    assert "members" not in lookup()["Resources"][0]

    # Remove two, listed in value rather than in a path filter.
    removed = patch_group(
        http,
        tenant,
        group_id,
        {"op": "Remove", "path": "members", "value": [{"value": first}, {"value": third}]},
    )
    assert member_ids(removed) == {second}
    assert member_ids(scim_get(http, tenant, f"/Groups/{group_id}")) == {second}
    assert group_id in {g["value"] for g in scim_get(http, tenant, f"/Users/{second}")["groups"]}
    assert "groups" not in scim_get(http, tenant, f"/Users/{first}")

    r = http.get(f"{V2}/groups/{group_id}", headers=tenant.headers("group:read"))
    assert r.status_code == 200, r.text
    assert r.json()["memberCount"] == 1

    # Rename, as Entra does it: a Replace of displayName.
    new_name = f"{name} renamed"
    renamed = patch_group(
        http, tenant, group_id, {"op": "Replace", "path": "displayName", "value": new_name}
    )
    assert renamed["displayName"] == new_name
    assert member_ids(renamed) == {second}
    assert lookup()["totalResults"] == 0
    name = new_name
    assert lookup()["Resources"][0]["id"] == group_id

    r = http.delete(f"{SCIM}/Groups/{group_id}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    assert lookup()["totalResults"] == 0


# ---- delete --------------------------------------------------------------------------------


def test_delete_user_removes_it_by_default(http: TestClient, tenant: TenantHandle) -> None:
    user = scim_post(http, tenant, "/Users", _entra_user())
    r = http.delete(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    assert r.content == b""
    r = http.get(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 404, r.text
    assert r.json()["schemas"] == [ERROR_SCHEMA]
    assert r.json()["status"] == "404"
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{user["userName"]}"'},
        headers=tenant.scim_headers(),
    )
    assert r.json()["totalResults"] == 0
    r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
    assert r.status_code == 404, r.text
    # A second DELETE finds nothing.
    r = http.delete(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 404, r.text


def test_delete_user_deactivates_where_the_tenant_says_so(
    http: TestClient, tenant: TenantHandle
) -> None:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        tenants_service.set_scim_delete(session, row, "deactivate")

    user = scim_post(http, tenant, "/Users", _entra_user())
    r = http.delete(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    got = scim_get(http, tenant, f"/Users/{user['id']}")
    assert got["active"] is False
    assert got["userName"] == user["userName"]
    assert got[ENTERPRISE]["department"] == "Research"
    r = http.get(f"{V2}/users/{user['id']}", headers=tenant.headers("user:read"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "inactive"
    # Still found by Entra's lookup, as inactive.
    r = http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{user["userName"]}"'},
        headers=tenant.scim_headers(),
    )
    assert [(u["id"], u["active"]) for u in r.json()["Resources"]] == [(user["id"], False)]


def test_delete_setting_is_per_tenant(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    with other_tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, other_tenant.slug)
        tenants_service.set_scim_delete(session, row, "deactivate")

    user = scim_post(http, tenant, "/Users", _entra_user())
    r = http.delete(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 204, r.text
    r = http.get(f"{SCIM}/Users/{user['id']}", headers=tenant.scim_headers())
    assert r.status_code == 404, r.text
