"""The lifecycle scenarios of seed 000 (Seismic User Management API Guide), step by step,
as an integrator would script them against /integration/v2.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"
GROUPS = f"{V2}/groups"


def _error(r: Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return dict(body["error"])


def _token(http: TestClient, tenant: TenantHandle, *scopes: str) -> dict[str, str]:
    """Step 1 of both scenarios: an access token from the client credentials grant."""
    client_id, secret = tenant.client_credentials(list(scopes))
    r = http.post(
        f"/tenants/{tenant.slug}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"].lower() == "bearer"
    assert set(token["scope"].split()) == set(scopes)
    return {"Authorization": f"Bearer {token['access_token']}"}


def _users_with_email(http: TestClient, h: dict[str, str], email: str) -> list[dict[str, Any]]:
    r = http.get(USERS, params={"email": email}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == len(body["items"])
    return list(body["items"])


def _group_ids_of(http: TestClient, h: dict[str, str], user_id: str) -> set[str]:
    r = http.get(f"{USERS}/{user_id}/groups", headers=h)
    assert r.status_code == 200, r.text
    return {g["id"] for g in r.json()["items"]}


def _member_ids(http: TestClient, h: dict[str, str], group_id: str) -> set[str]:
    r = http.get(f"{GROUPS}/{group_id}/members", params={"pageSize": 100}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalCount"] == len(body["items"])
    return {u["id"] for u in body["items"]}


def test_onboard_a_new_sales_user_and_assign_to_a_group(
    http: TestClient, tenant: TenantHandle
) -> None:
    sales = tenant.group(name="Sales")
    colleague = tenant.user()
    r = http.post(
        f"{GROUPS}/{sales['id']}/members",
        json={"userId": colleague["id"]},
        headers=tenant.headers(),
    )
    assert r.status_code == 201, r.text
    user_role = tenant.role_named("User")
    h = _token(http, tenant, "user:read", "user:write", "group:read", "group:write")
    email = "new.seller@example.com"

    # Watch out for: check for an existing user first.
    assert _users_with_email(http, h, email) == []

    # 2. create the user with email, firstName, lastName, username and role
    body = {
        "email": email,
        "firstName": "Nova",
        "lastName": "Seller",
        "username": email,
        "roleId": user_role["id"],
    }
    r = http.post(USERS, json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    # 3. capture the returned id
    user_id = created["id"]
    assert (created["email"], created["username"]) == (email, email)
    assert (created["roleId"], created["roleName"]) == (user_role["id"], "User")
    assert created["isActive"] is True

    # 4. add the user to the sales group
    r = http.post(f"{GROUPS}/{sales['id']}/members", json={"userId": user_id}, headers=h)
    assert r.status_code == 201, r.text
    added = r.json()
    assert (added["groupId"], added["userId"]) == (sales["id"], user_id)
    assert added["addedAt"]

    # 5. verify the membership
    r = http.get(f"{GROUPS}/{sales['id']}/members", headers=h)
    assert r.status_code == 200, r.text
    members = r.json()
    assert members["totalCount"] == 2
    mine = [u for u in members["items"] if u["id"] == user_id]
    assert len(mine) == 1 and mine[0]["email"] == email
    assert _group_ids_of(http, h, user_id) == {sales["id"]}

    # Creating the same user again is a 409 (by email, and by username in another case) ...
    for again in (body, {**body, "email": "NEW.SELLER@example.com"}):
        assert _error(http.post(USERS, json=again, headers=h), 409)["code"] == "conflict"
    assert [u["id"] for u in _users_with_email(http, h, email)] == [user_id]

    # ... and so is adding them to the group again; nothing changes.
    r = http.post(f"{GROUPS}/{sales['id']}/members", json={"userId": user_id}, headers=h)
    assert _error(r, 409)["code"] == "conflict"
    assert _member_ids(http, h, sales["id"]) == {colleague["id"], user_id}
    r = http.get(f"{GROUPS}/{sales['id']}", headers=h)
    assert r.status_code == 200 and r.json()["memberCount"] == 2


def test_offboard_a_departing_employee(http: TestClient, tenant: TenantHandle) -> None:
    sales, emea, unrelated = tenant.group(), tenant.group(), tenant.group()
    leaver = tenant.user(email="leaver@example.com", groupIds=[sales["id"], emea["id"]])
    stayer = tenant.user(groupIds=[sales["id"], emea["id"], unrelated["id"]])
    h = _token(http, tenant, "user:read", "user:write", "group:read", "group:write")

    # 2. look the user up by email (case-insensitively)
    found = _users_with_email(http, h, "Leaver@Example.com")
    assert [u["id"] for u in found] == [leaver["id"]]
    user_id = found[0]["id"]

    # 3. deactivate
    r = http.patch(f"{USERS}/{user_id}", json={"isActive": False}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["isActive"] is False and r.json()["status"] == "inactive"

    # Deactivation does not remove group membership ...
    groups = _group_ids_of(http, h, user_id)
    assert groups == {sales["id"], emea["id"]}

    # 4. ... so remove the user from every group
    for group_id in sorted(groups):
        r = http.delete(f"{GROUPS}/{group_id}/members/{user_id}", headers=h)
        assert r.status_code == 204, r.text

    # The user is inactive, in no group, and still readable; nobody else was touched.
    r = http.get(f"{USERS}/{user_id}", headers=h)
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["isActive"] is False and after["status"] == "inactive"
    assert (after["email"], after["firstName"], after["lastName"]) == (
        leaver["email"],
        leaver["firstName"],
        leaver["lastName"],
    )
    assert _group_ids_of(http, h, user_id) == set()
    for group in (sales, emea):
        assert _member_ids(http, h, group["id"]) == {stayer["id"]}
    assert _group_ids_of(http, h, stayer["id"]) == {sales["id"], emea["id"], unrelated["id"]}
    r = http.get(USERS, params={"isActive": "false"}, headers=h)
    assert [u["id"] for u in r.json()["items"]] == [user_id]
    assert [u["id"] for u in _users_with_email(http, h, leaver["email"])] == [user_id]

    # Running the removal again reports that the user is no longer a member.
    r = http.delete(f"{GROUPS}/{sales['id']}/members/{user_id}", headers=h)
    _error(r, 404)
