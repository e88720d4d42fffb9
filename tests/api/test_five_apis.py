"""One directory, five APIs: a user made through any of them reads back the same through
every other one (REST v2, SCIM 2.0, /api/v1, ADMIN users, user identities)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi.testclient import TestClient

from rosterd.services import admins as admins_service
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.factories import V2, TenantHandle

SCIM = "/scim/v2"
API_V1 = "/api/v1"
ADMIN = "/v1/seadminusers"
UI = "/user_identities"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

Person = tuple[str, str, str]  # email, first name, last name


def _credentials(http: TestClient, tenant: TenantHandle) -> dict[str, dict[str, str]]:
    """Headers for each API, all of one tenant."""
    username, password = f"admin-{secrets.token_hex(4)}", "correct horse battery staple"
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        admins_service.create_admin(session, row, username=username, password=password, actor=actor)
        api_key = bearer_secrets.create(
            session, api_keys.KIND, row, name="five", hmac_key=tenant.runtime.hmac_key, actor=actor
        ).secret
    r = http.post(
        f"{API_V1}/authentication/login", json={"username": username, "password": password}
    )
    assert r.status_code == 200, r.text
    return {
        "v2": tenant.headers(),
        "scim": tenant.scim_headers(),
        "v1": {"Authorization": f"Bearer {r.json()['access_token']}"},
        "admin": {**tenant.headers(), "x-api-key": api_key},
        "identities": {"Authorization": f"Bearer {api_key}"},
    }


def test_a_user_made_through_any_api_reads_back_through_every_other(
    http: TestClient, tenant: TenantHandle
) -> None:
    h = _credentials(http, tenant)

    # ---- create through each API; each answers the user's id ---------------------------

    def create_v2(email: str, first: str, last: str) -> str:
        r = http.post(
            f"{V2}/users",
            json={"email": email, "firstName": first, "lastName": last},
            headers=h["v2"],
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def create_scim(email: str, first: str, last: str) -> str:
        body = {
            "schemas": [USER_SCHEMA],
            "userName": email,
            "name": {"givenName": first, "familyName": last},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": True,
        }
        r = http.post(f"{SCIM}/Users", json=body, headers=h["scim"])
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def create_v1(email: str, first: str, last: str) -> str:
        body = {
            "email": email,
            "firstName": first,
            "lastName": last,
            "password": "another long password",
        }
        r = http.post(f"{API_V1}/users", json=body, headers=h["v1"])
        assert r.status_code == 201, r.text
        return str(r.json()["_id"])

    def create_admin(email: str, first: str, last: str) -> str:
        body = {"emailAddress": email, "firstName": first, "lastName": last}
        r = http.post(ADMIN, json=body, headers=h["admin"])
        assert r.status_code == 201, r.text
        number = r.json()["id"]
        assert isinstance(number, int)
        # The other APIs name users by their UUID; v2 finds it by email.
        r = http.get(f"{V2}/users", params={"email": email}, headers=h["v2"])
        assert r.status_code == 200, r.text
        (user,) = r.json()["items"]
        return str(user["id"])

    def create_identity(email: str, first: str, last: str) -> str:
        body = {"email_address": email, "full_name": f"{first} {last}"}
        r = http.post(f"{UI}/create", json=body, headers=h["identities"])
        assert r.status_code == 200, r.text
        return str(r.json()["user_identity"]["user_identity_id"])

    # ---- read through each API: (email, first name, last name) -------------------------

    def read_v2(user_id: str, email: str) -> Person:
        r = http.get(f"{V2}/users/{user_id}", headers=h["v2"])
        assert r.status_code == 200, r.text
        u = r.json()
        return u["email"], u["firstName"], u["lastName"]

    def read_scim(user_id: str, email: str) -> Person:
        r = http.get(f"{SCIM}/Users/{user_id}", headers=h["scim"])
        assert r.status_code == 200, r.text
        u = r.json()
        emails = [e["value"] for e in u["emails"]]
        assert len(emails) == 1, u
        return emails[0], u["name"]["givenName"], u["name"]["familyName"]

    def read_v1(user_id: str, email: str) -> Person:
        r = http.get(f"{API_V1}/users/{user_id}", headers=h["v1"])
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["_id"] == user_id
        return u["email"], u["firstName"], u["lastName"]

    def read_admin(user_id: str, email: str) -> Person:
        r = http.get(ADMIN, params={"searchData.emailAddress": email}, headers=h["admin"])
        assert r.status_code == 200, r.text
        (found,) = r.json()["users"]
        r = http.get(f"{ADMIN}/{found['id']}", headers=h["admin"])
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["id"] == found["id"]
        return u["emailAddress"], u["firstName"], u["lastName"]

    def read_identity(user_id: str, email: str) -> Person:
        r = http.get(f"{UI}/get", params={"user_identity_id": user_id}, headers=h["identities"])
        assert r.status_code == 200, r.text
        u = r.json()["user_identity"]
        assert u["user_identity_id"] == user_id
        first, _, last = u["full_name"].partition(" ")
        return u["email_address"], first, last

    creators: dict[str, Callable[[str, str, str], str]] = {
        "v2": create_v2,
        "scim": create_scim,
        "v1": create_v1,
        "admin": create_admin,
        "identities": create_identity,
    }
    readers: dict[str, Callable[[str, str], Person]] = {
        "v2": read_v2,
        "scim": read_scim,
        "v1": read_v1,
        "admin": read_admin,
        "identities": read_identity,
    }

    made: dict[str, tuple[str, Person]] = {}
    for api, create in creators.items():
        tag = secrets.token_hex(3)
        person = (f"{api}.{tag}@example.com", f"First{api.capitalize()}", f"Last{tag}")
        made[api] = (create(*person), person)

    assert len({user_id for user_id, _ in made.values()}) == 5
    checked = 0
    for origin, (user_id, person) in made.items():
        for api, read in readers.items():
            got = read(user_id, person[0])
            assert got == person, f"made through {origin}, read through {api}: {got} != {person}"
            checked += 1
    assert checked == 25

    # Each API lists all five and no more.
    r = http.get(f"{V2}/users", params={"limit": 100}, headers=h["v2"])
    assert {u["id"] for u in r.json()["items"]} == {uid for uid, _ in made.values()}
    r = http.get(f"{SCIM}/Users", headers=h["scim"])
    assert r.json()["totalResults"] == 5
    r = http.get(f"{API_V1}/users", headers=h["v1"])
    assert {u["_id"] for u in r.json()} == {uid for uid, _ in made.values()}
    r = http.get(ADMIN, headers=h["admin"])
    assert sorted(u["emailAddress"] for u in r.json()["users"]) == sorted(
        p[0] for _, p in made.values()
    )
    r = http.get(f"{UI}/list", headers=h["identities"])
    assert {u["user_identity_id"] for u in r.json()["user_identities"]} == {
        uid for uid, _ in made.values()
    }
