"""Lists come back in one order on SQLite and PostgreSQL: names, usernames and addresses
sort by their folded keys (NFC + casefold, by code point), people without a value last."""

from __future__ import annotations

import secrets
import unicodedata
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import V2, TenantHandle

# Pairs that differ only in case or Unicode form, non-ASCII letters SQL's lower() does not
# fold on SQLite, and people without a last or first name.
PEOPLE: list[dict[str, Any]] = [
    {"firstName": "Émile", "lastName": "Zola", "username": "Émile"},
    {"firstName": "emma", "lastName": "zola", "username": "emma"},
    {"firstName": "Zoë", "lastName": "Ärger", "username": "ZOË"},
    {"firstName": "zoe", "lastName": "arger", "username": "zoe"},
    {"firstName": "Anna", "lastName": "Straße", "username": "anna"},
    {"firstName": "Ann", "lastName": "STRASSE", "username": "Ann"},
    {"firstName": "Åsa", "lastName": "Öberg", "username": "åsa"},
    {"firstName": "Ola", "lastName": "oberg", "username": "OLA"},
    # lower() on SQLite leaves Ä as it is, which sorts it before ä: "Ärger" before "äpfel".
    {"firstName": "Björn", "lastName": "ÄRGER", "username": "Björn"},
    {"firstName": "Carl", "lastName": "äpfel", "username": "carl"},
]


def _fold(value: str | None) -> str | None:
    if value is None:
        return None
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def _name_order(users: list[dict[str, Any]]) -> list[str]:
    def key(u: dict[str, Any]) -> tuple[Any, ...]:
        last, first = _fold(u.get("lastName")), _fold(u.get("firstName"))
        return (last is None, last or "", first is None, first or "", u["id"])

    return [u["id"] for u in sorted(users, key=key)]


def _made(tenant: TenantHandle) -> list[dict[str, Any]]:
    tag = secrets.token_hex(3)
    made = []
    for n, person in enumerate(PEOPLE):
        made.append(
            tenant.user(
                **{
                    **person,
                    "email": f"{person['username']}.{tag}@Example.com",
                    "username": f"{person['username']}-{tag}",
                }
            )
        )
        if n == 0:
            # Someone without a last name (v2 requires one; SCIM does not).
            r = tenant.http.post(
                "/scim/v2/Users",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"solo-{tag}",
                    "name": {"givenName": "Solo"},
                    "emails": [{"value": f"solo.{tag}@x.com", "primary": True}],
                },
                headers=tenant.scim_headers(),
            )
            assert r.status_code == 201, r.text
            made.append(
                {
                    "id": r.json()["id"],
                    "firstName": "Solo",
                    "email": f"solo.{tag}@x.com",
                    "username": f"solo-{tag}",
                }
            )
    return made


def test_name_order_is_the_folded_order_on_both_databases(
    http: TestClient, tenant: TenantHandle
) -> None:
    made = _made(tenant)
    r = http.get(f"{V2}/users", params={"sortBy": "name", "limit": 100}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    listed = r.json()["items"]
    assert [u["id"] for u in listed] == _name_order(made)
    r = http.get(
        f"{V2}/users",
        params={"sortBy": "name", "sortOrder": "desc", "limit": 100},
        headers=tenant.headers(),
    )
    ids = [u["id"] for u in r.json()["items"]]
    # Descending reverses the names; people without a last name stay last.
    assert ids[-1] == next(u["id"] for u in made if u.get("lastName") is None)


def test_address_and_username_order_is_the_folded_order(
    http: TestClient, tenant: TenantHandle
) -> None:
    made = _made(tenant)
    r = http.get(f"{V2}/users", params={"sortBy": "email", "limit": 100}, headers=tenant.headers())
    assert [u["id"] for u in r.json()["items"]] == [
        u["id"] for u in sorted(made, key=lambda u: (_fold(u["email"]), u["id"]))
    ]
    r = http.get(
        "/scim/v2/Users",
        params={"sortBy": "userName", "count": 100},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["Resources"]] == [
        u["id"] for u in sorted(made, key=lambda u: (_fold(u["username"]), u["id"]))
    ]


def test_group_members_come_in_name_order(http: TestClient, tenant: TenantHandle) -> None:
    made = _made(tenant)
    group = tenant.group()
    for user in reversed(made):
        r = http.post(
            f"{V2}/groups/{group['id']}/members",
            json={"userId": user["id"]},
            headers=tenant.headers(),
        )
        assert r.status_code in (200, 201), r.text
    r = http.get(
        f"{V2}/groups/{group['id']}/members", params={"limit": 100}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    assert [u["id"] for u in r.json()["items"]] == _name_order(made)
