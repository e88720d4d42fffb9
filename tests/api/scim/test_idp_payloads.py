"""What Okta and Entra ID really send, replayed: each shape is accepted and read back as sent.

The shapes come from issue 10 and from the IdPs' published SCIM examples: Okta's SCIM 2.0
reference (its ``@okta.local`` user, free-text profile phones, the manager as a one-element
list), Microsoft's "Develop a SCIM endpoint" walkthrough (the create body with the enterprise
extension, the work/mobile/fax phone numbers of Entra's default mapping, ``"True"`` from a
``Switch()`` expression), and RFC 7643 §2.1 (attribute names in any case). Every case runs
through POST, PUT and PATCH, and on both databases.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.scim.support import (
    ENTERPRISE,
    GROUP_SCHEMA,
    OKTA_REFERENCE_USER,
    PATCH_SCHEMA,
    SCIM,
    USER_SCHEMA,
    scim_get,
    scim_patch,
    scim_post,
    scim_put,
    v2_get,
)
from tests.factories import V2, TenantHandle

# Written by people, not by a formatter: each must come back character for character.
FREE_TEXT_PHONES = ["555-415-1337", "(425) 555-0100", "020 7946 0958", "+49 (0)30 1234567"]
SPECIAL_USE_EMAILS = ["user@okta.local", "x@corp.test", "y@home.arpa"]


def _user(**fields: Any) -> dict[str, Any]:
    n = secrets.token_hex(4)
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": f"user.{n}@example.com",
        "name": {"givenName": "Test", "familyName": f"User{n}"},
        "active": True,
    }
    body.update(fields)
    return body


def _manager(user: dict[str, Any]) -> str | None:
    manager = user.get(ENTERPRISE, {}).get("manager")
    return None if manager is None else str(manager["value"])


# ---- phone numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("phone", FREE_TEXT_PHONES)
def test_a_phone_number_is_stored_exactly_as_sent(
    http: TestClient, tenant: TenantHandle, phone: str
) -> None:
    sent = [{"value": phone, "type": "work", "primary": True}]
    created = scim_post(http, tenant, "/Users", _user(phoneNumbers=sent))
    assert created["phoneNumbers"] == sent
    assert scim_get(http, tenant, f"/Users/{created['id']}")["phoneNumbers"] == sent

    # PUT: the number moves to the mobile entry, beside an E.164 one.
    replaced = [
        {"value": "+14155550100", "type": "work", "primary": True},
        {"value": phone, "type": "mobile"},
    ]
    body = {**_user(userName=created["userName"]), "phoneNumbers": replaced}
    assert scim_put(http, tenant, f"/Users/{created['id']}", body)["phoneNumbers"] == replaced
    assert scim_get(http, tenant, f"/Users/{created['id']}")["phoneNumbers"] == replaced

    # PATCH through Entra's filtered path, on a user that has no fax yet.
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "Add", "path": 'phoneNumbers[type eq "fax"].value', "value": phone},
    )
    expected = [*replaced, {"value": phone, "type": "fax"}]
    assert patched["phoneNumbers"] == expected
    assert scim_get(http, tenant, f"/Users/{created['id']}")["phoneNumbers"] == expected


def test_users_sharing_a_switchboard_number_are_all_accepted(
    http: TestClient, tenant: TenantHandle
) -> None:
    switchboard = [{"value": "(425) 555-0100", "type": "work", "primary": True}]
    first = scim_post(http, tenant, "/Users", _user(phoneNumbers=switchboard))
    second = scim_post(http, tenant, "/Users", _user(phoneNumbers=switchboard))
    third = scim_post(http, tenant, "/Users", _user())
    scim_patch(
        http,
        tenant,
        f"/Users/{third['id']}",
        {"op": "add", "path": "phoneNumbers", "value": switchboard},
    )
    for user in (first, second, third):
        assert scim_get(http, tenant, f"/Users/{user['id']}")["phoneNumbers"] == switchboard
    # A full replace that keeps the shared number is no conflict either.
    body = {**_user(userName=second["userName"]), "phoneNumbers": switchboard}
    assert scim_put(http, tenant, f"/Users/{second['id']}", body)["phoneNumbers"] == switchboard


# ---- email addresses -----------------------------------------------------------------------


@pytest.mark.parametrize("address", SPECIAL_USE_EMAILS)
def test_special_use_email_domains_are_accepted(
    http: TestClient, tenant: TenantHandle, address: str
) -> None:
    sent = [{"value": address, "type": "work", "primary": True}]
    created = scim_post(http, tenant, "/Users", _user(userName=address, emails=sent))
    assert created["userName"] == address
    assert created["emails"] == sent
    assert scim_get(http, tenant, f"/Users/{created['id']}")["emails"] == sent
    assert v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"] == address

    local, domain = address.split("@")
    other = f"{local}.other@{domain}"
    body = _user(userName=address, emails=[{"value": other, "type": "work", "primary": True}])
    assert scim_put(http, tenant, f"/Users/{created['id']}", body)["emails"][0]["value"] == other
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": address},
    )
    assert patched["emails"] == sent
    assert v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"] == address

    # The same address domain through v2.
    v2_address = f"{local}.v2@{domain}"
    r = http.post(
        f"{V2}/users",
        json={"email": v2_address, "firstName": "Vee", "lastName": "Two"},
        headers=tenant.headers(),
    )
    assert r.status_code == 201, r.text
    assert v2_get(http, tenant, f"/users/{r.json()['id']}", "user:read")["email"] == v2_address
    assert scim_get(http, tenant, f"/Users/{r.json()['id']}")["emails"][0]["value"] == v2_address


def test_every_email_and_phone_number_is_kept_with_its_type(
    http: TestClient, tenant: TenantHandle
) -> None:
    n = secrets.token_hex(4)
    emails = [
        {"value": f"work.{n}@example.com", "type": "work"},
        {"value": f"home.{n}@example.net", "type": "home", "primary": True},
        {"value": f"other.{n}@example.org", "type": "other"},
    ]
    phones = [
        {"value": "555-415-1337", "type": "work"},
        {"value": "+1 (425) 555-0100", "type": "mobile", "primary": True},
        {"value": "020 7946 0958", "type": "fax"},
    ]
    created = scim_post(http, tenant, "/Users", _user(emails=emails, phoneNumbers=phones))
    assert created["emails"] == emails
    assert created["phoneNumbers"] == phones
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    assert got["emails"] == emails
    assert got["phoneNumbers"] == phones
    # The primary address is the one every other surface shows.
    assert (
        v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"]
        == f"home.{n}@example.net"
    )

    # PUT: another primary, one entry fewer.
    emails = [
        {"value": f"work.{n}@example.com", "type": "work", "primary": True},
        {"value": f"other.{n}@example.org", "type": "other", "display": "Other"},
    ]
    phones = [{"value": "555-415-1337", "type": "work", "primary": True}, phones[2]]
    body = _user(userName=created["userName"], emails=emails, phoneNumbers=phones)
    replaced = scim_put(http, tenant, f"/Users/{created['id']}", body)
    assert (replaced["emails"], replaced["phoneNumbers"]) == (emails, phones)
    assert (
        v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"]
        == f"work.{n}@example.com"
    )

    # PATCH: Okta adds a home address, Entra changes the fax through its filtered path.
    added = {"value": f"home2.{n}@example.net", "type": "home"}
    patched = scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "add", "path": "emails", "value": [added]},
        {"op": "Replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "020 7946 0000"},
    )
    emails = [*emails, added]
    phones = [phones[0], {"value": "020 7946 0000", "type": "fax"}]
    assert (patched["emails"], patched["phoneNumbers"]) == (emails, phones)
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    assert (got["emails"], got["phoneNumbers"]) == (emails, phones)
    assert (
        v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"]
        == f"work.{n}@example.com"
    )


# ---- attribute names in any case (RFC 7643 §2.1) ---------------------------------------------


def test_attribute_names_in_any_case_are_accepted(http: TestClient, tenant: TenantHandle) -> None:
    boss = scim_post(http, tenant, "/Users", _user())
    deputy = scim_post(http, tenant, "/Users", _user())
    n = secrets.token_hex(4)
    body = {
        "Schemas": [USER_SCHEMA, ENTERPRISE.upper()],
        "UserName": f"Cased.{n}@example.com",
        "Name": {"GivenName": "Cased", "FamilyName": "Body"},
        "DisplayName": "Cased Body",
        "Emails": [{"Value": f"cased.{n}@example.com", "Type": "work", "Primary": True}],
        "PhoneNumbers": [{"Value": "555-415-1337", "Type": "mobile"}],
        "Active": True,
        ENTERPRISE.upper(): {
            "Department": "Research",
            "EmployeeNumber": "E1",
            "Manager": {"Value": boss["id"]},
        },
    }
    created = scim_post(http, tenant, "/Users", body)
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (created, got):
        assert user["userName"] == f"Cased.{n}@example.com"
        assert user["name"]["givenName"] == "Cased"
        assert user["name"]["familyName"] == "Body"
        assert user["displayName"] == "Cased Body"
        assert user["emails"] == [
            {"value": f"cased.{n}@example.com", "type": "work", "primary": True}
        ]
        assert user["phoneNumbers"] == [{"value": "555-415-1337", "type": "mobile"}]
        assert user[ENTERPRISE]["department"] == "Research"
        assert user[ENTERPRISE]["employeeNumber"] == "E1"
        assert _manager(user) == boss["id"]

    body["DisplayName"] = "Replaced"
    body[ENTERPRISE.upper()] = {"MANAGER": {"VALUE": deputy["id"]}, "CostCenter": "42"}
    replaced = scim_put(http, tenant, f"/Users/{created['id']}", body)
    assert replaced["displayName"] == "Replaced"
    assert _manager(replaced) == deputy["id"]
    assert replaced[ENTERPRISE]["costCenter"] == "42"
    assert "department" not in replaced[ENTERPRISE]

    patched = scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "replace", "path": "Name.GivenName", "value": "Patched"},
        {"op": "replace", "path": f"{ENTERPRISE}:Manager", "value": {"Value": boss["id"]}},
        {"op": "replace", "path": "Department", "value": "Sales"},
        {"op": "replace", "value": {"DisplayName": "Pathless", "Title": "Lead"}},
    )
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (patched, got):
        assert user["name"]["givenName"] == "Patched"
        assert _manager(user) == boss["id"]
        assert user[ENTERPRISE]["department"] == "Sales"
        assert user["displayName"] == "Pathless"
        assert user["title"] == "Lead"

    # The extension in a path-less value, its URN and attributes in any case.
    scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "Replace", "value": {ENTERPRISE.lower(): {"Manager": {"Value": deputy["id"]}}}},
    )
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == deputy["id"]
    scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "Replace", "value": {f"{ENTERPRISE.upper()}:MANAGER": boss["id"]}},
    )
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == boss["id"]


def test_group_attribute_names_in_any_case_are_accepted(
    http: TestClient, tenant: TenantHandle
) -> None:
    ada = scim_post(http, tenant, "/Users", _user())
    bob = scim_post(http, tenant, "/Users", _user())
    name = f"Cased {secrets.token_hex(4)}"
    r = http.post(
        f"{SCIM}/Groups",
        json={
            "Schemas": [GROUP_SCHEMA],
            "DisplayName": name,
            "ExternalId": "ext-1",
            "Members": [{"Value": ada["id"]}],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 201, r.text
    group = r.json()
    assert group["displayName"] == name
    assert group["externalId"] == "ext-1"
    assert [m["value"] for m in group["members"]] == [ada["id"]]

    r = http.put(
        f"{SCIM}/Groups/{group['id']}",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayname": f"{name} renamed",
            "MEMBERS": [{"VALUE": bob["id"]}],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == f"{name} renamed"
    assert [m["value"] for m in r.json()["members"]] == [bob["id"]]

    r = http.patch(
        f"{SCIM}/Groups/{group['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "Add", "path": "Members", "value": [{"Value": ada["id"]}]},
                {"op": "Replace", "path": "DisplayName", "value": name},
                {"op": "Remove", "path": f'Members[Value eq "{bob["id"]}"]'},
            ],
        },
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 204, r.text
    r = http.get(f"{SCIM}/Groups/{group['id']}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == name
    assert [m["value"] for m in r.json()["members"]] == [ada["id"]]


# ---- the manager in every shape --------------------------------------------------------------


def _manager_shapes() -> list[Any]:
    """How IdPs send "this user's manager is X" (X filled in by the test)."""
    return [
        pytest.param(lambda x: x, id="entra-bare-id"),
        pytest.param(lambda x: {"value": x}, id="object-without-ref"),
        pytest.param(lambda x: {"value": x, "$ref": f"../Users/{x}"}, id="object-with-ref"),
        pytest.param(lambda x: {"$ref": None, "value": x}, id="object-with-null-ref"),
        pytest.param(lambda x: [{"$ref": f"../Users/{x}", "value": x}], id="okta-list"),
        pytest.param(lambda x: [{"value": x}], id="list-without-ref"),
        pytest.param(lambda x: {"Value": x}, id="capitalised-object"),
    ]


@pytest.mark.parametrize("shape", _manager_shapes())
def test_manager_in_every_shape(http: TestClient, tenant: TenantHandle, shape: Any) -> None:
    boss = scim_post(http, tenant, "/Users", _user())
    deputy = scim_post(http, tenant, "/Users", _user())
    body = _user(schemas=[USER_SCHEMA, ENTERPRISE], **{ENTERPRISE: {"manager": shape(boss["id"])}})
    created = scim_post(http, tenant, "/Users", body)
    assert _manager(created) == boss["id"]
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == boss["id"]

    body[ENTERPRISE] = {"manager": shape(deputy["id"])}
    assert _manager(scim_put(http, tenant, f"/Users/{created['id']}", body)) == deputy["id"]
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == deputy["id"]

    for path in (f"{ENTERPRISE}:manager", "manager"):
        for op, who in (("add", boss), ("replace", deputy)):
            patched = scim_patch(
                http,
                tenant,
                f"/Users/{created['id']}",
                {"op": op, "path": path, "value": shape(who["id"])},
            )
            assert _manager(patched) == who["id"]
            assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == who["id"]

    # Path-less, under the extension and as a URN-qualified key.
    for value in (
        {ENTERPRISE: {"manager": shape(boss["id"])}},
        {f"{ENTERPRISE}:manager": shape(deputy["id"])},
    ):
        scim_patch(http, tenant, f"/Users/{created['id']}", {"op": "replace", "value": value})
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == deputy["id"]


@pytest.mark.parametrize("empty", [[], None, ""], ids=["empty-list", "null", "empty-id"])
def test_an_empty_manager_clears_it(http: TestClient, tenant: TenantHandle, empty: Any) -> None:
    boss = scim_post(http, tenant, "/Users", _user())
    with_boss = {ENTERPRISE: {"manager": {"value": boss["id"]}, "department": "R&D"}}
    body = _user(schemas=[USER_SCHEMA, ENTERPRISE], **with_boss)
    created = scim_post(http, tenant, "/Users", body)
    assert _manager(created) == boss["id"]

    # PUT with an empty manager.
    body[ENTERPRISE] = {"manager": empty, "department": "R&D"}
    assert _manager(scim_put(http, tenant, f"/Users/{created['id']}", body)) is None
    assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) is None

    # PATCH with an empty manager, by path and path-less.
    for operation in (
        {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": empty},
        {"op": "add", "path": "manager", "value": empty},
        {"op": "replace", "value": {f"{ENTERPRISE}:manager": empty}},
    ):
        scim_patch(
            http,
            tenant,
            f"/Users/{created['id']}",
            {"op": "add", "path": "manager", "value": boss["id"]},
        )
        assert _manager(scim_get(http, tenant, f"/Users/{created['id']}")) == boss["id"]
        patched = scim_patch(http, tenant, f"/Users/{created['id']}", operation)
        assert _manager(patched) is None
        got = scim_get(http, tenant, f"/Users/{created['id']}")
        assert _manager(got) is None
        assert got[ENTERPRISE]["department"] == "R&D"

    # POST with an empty manager: none.
    created = scim_post(
        http,
        tenant,
        "/Users",
        _user(schemas=[USER_SCHEMA, ENTERPRISE], **{ENTERPRISE: {"manager": empty}}),
    )
    assert _manager(created) is None


def test_manager_list_of_two_is_refused(http: TestClient, tenant: TenantHandle) -> None:
    a, b = scim_post(http, tenant, "/Users", _user()), scim_post(http, tenant, "/Users", _user())
    body = _user(
        schemas=[USER_SCHEMA, ENTERPRISE],
        **{ENTERPRISE: {"manager": [{"value": a["id"]}, {"value": b["id"]}]}},
    )
    r = http.post(f"{SCIM}/Users", json=body, headers=tenant.scim_headers())
    assert r.status_code == 400, r.text
    assert r.json()["scimType"] == "invalidValue"


# ---- the IdPs' reference bodies --------------------------------------------------------------


def test_okta_reference_user(http: TestClient, tenant: TenantHandle) -> None:
    """Okta's SCIM 2.0 reference body, its okta.local address included, then Okta's PUT
    (the whole user, id and meta too) and its deactivation PATCH."""
    body = copy.deepcopy(OKTA_REFERENCE_USER)
    created = scim_post(http, tenant, "/Users", body)
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (created, got):
        for key in ("userName", "emails", "displayName", "locale", "externalId"):
            assert user[key] == body[key], key
        assert user["name"]["givenName"] == "Test"
        assert user["name"]["familyName"] == "User"
        assert user["active"] is True
        assert "password" not in user
    assert (
        v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"]
        == "test.user@okta.local"
    )

    put_body = {
        **body,
        "id": created["id"],
        "meta": {"resourceType": "User"},
        "name": {"givenName": "Another", "familyName": "User"},
        "phoneNumbers": [{"value": "555-415-1337", "type": "mobile", "primary": True}],
        "emails": [
            {"primary": True, "value": "test.user@okta.local", "type": "work"},
            {"value": "test.user@home.arpa", "type": "home"},
        ],
    }
    replaced = scim_put(http, tenant, f"/Users/{created['id']}", put_body)
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (replaced, got):
        for key in ("emails", "phoneNumbers"):
            assert user[key] == put_body[key], key
        assert user["name"]["givenName"] == "Another"

    patched = scim_patch(
        http, tenant, f"/Users/{created['id']}", {"op": "replace", "value": {"active": False}}
    )
    assert patched["active"] is False
    assert patched["emails"] == put_body["emails"]
    assert v2_get(http, tenant, f"/users/{created['id']}", "user:read")["status"] == "inactive"


def test_entra_reference_user(http: TestClient, tenant: TenantHandle) -> None:
    """Microsoft's create body with the enterprise extension and the phone numbers of Entra's
    default mapping, ``active`` from a Switch() expression, then the PATCHes Entra sends."""
    boss = scim_post(http, tenant, "/Users", _user())
    n = uuid.uuid4()
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": f"Test_User_{n}@testuser.com",
        "active": "True",
        "emails": [{"primary": True, "type": "work", "value": f"Test_User_{n}@testuser.com"}],
        "phoneNumbers": [
            {"type": "work", "value": "(425) 555-0100"},
            {"type": "mobile", "value": "+1 425-555-0101"},
            {"type": "fax", "value": "425.555.0102"},
        ],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
        ENTERPRISE: {
            "employeeNumber": "100009",
            "department": "Human Resources US",
            "manager": {"value": boss["id"]},
        },
    }
    created = scim_post(http, tenant, "/Users", body)
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (created, got):
        for key in ("externalId", "userName", "emails", "phoneNumbers"):
            assert user[key] == body[key], key
        assert user["active"] is True
        assert user["name"]["givenName"] == "givenName"
        assert user["name"]["familyName"] == "familyName"
        assert user[ENTERPRISE]["employeeNumber"] == "100009"
        assert user[ENTERPRISE]["department"] == "Human Resources US"
        assert _manager(user) == boss["id"]
    assert (
        v2_get(http, tenant, f"/users/{created['id']}", "user:read")["email"]
        == body["emails"][0]["value"]
    )

    patched = scim_patch(
        http,
        tenant,
        f"/Users/{created['id']}",
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "555-415-1337"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": boss["id"]}]},
    )
    phones = [
        {"type": "work", "value": "(425) 555-0100"},
        {"type": "mobile", "value": "555-415-1337"},
        {"type": "fax", "value": "425.555.0102"},
    ]
    got = scim_get(http, tenant, f"/Users/{created['id']}")
    for user in (patched, got):
        assert user["phoneNumbers"] == phones
        assert user["name"]["familyName"] == "updatedFamilyName"
        assert user["active"] is False
        assert _manager(user) is None


# ---- errors name the attribute the IdP sent --------------------------------------------------


def _refused_values() -> list[Any]:
    """(a body's attributes, the SCIM attribute the error must name first)."""
    long = "x" * 5000
    return [
        pytest.param({"userName": long}, "userName", id="userName"),
        pytest.param({"name": {"givenName": long}}, "name.givenName", id="name.givenName"),
        pytest.param({"name": {"familyName": "a\x00b"}}, "name.familyName", id="familyName"),
        pytest.param({"displayName": long}, "displayName", id="displayName"),
        pytest.param({"title": "a\x00b"}, "title", id="title"),
        pytest.param({"locale": "not a locale"}, "locale", id="locale"),
        pytest.param({"externalId": long}, "externalId", id="externalId"),
        pytest.param({"phoneNumbers": [{"value": "1\x002"}]}, "phoneNumbers", id="phoneNumbers"),
        pytest.param(
            {"schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"employeeNumber": long}},
            "employeeNumber",
            id="employeeNumber",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"costCenter": "a\x00"}},
            "costCenter",
            id="costCenter",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"manager": str(uuid.uuid4())}},
            "manager",
            id="manager",
        ),
    ]


@pytest.mark.parametrize(("attributes", "attribute"), _refused_values())
def test_a_refused_value_names_its_scim_attribute(
    http: TestClient, tenant: TenantHandle, attributes: dict[str, Any], attribute: str
) -> None:
    r = http.post(f"{SCIM}/Users", json=_user(**attributes), headers=tenant.scim_headers())
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["scimType"] == "invalidValue"
    assert err["detail"].startswith(f"{attribute}: "), err


def test_a_refused_group_name_names_display_name(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": "x" * 5000},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("displayName: "), r.json()
