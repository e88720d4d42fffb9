"""UserOut.wire_of_listing unpacks a listing row by position: the order must be the
repository's, and each column must land in its own field."""

from __future__ import annotations

from collections import namedtuple

from rosterd.api.v2.schemas import UserOut
from rosterd.repositories import users as users_repo


def test_the_wire_unpacks_the_columns_the_repository_selects_in_its_order() -> None:
    assert UserOut.LISTING_NAMES == users_repo.LISTING_NAMES


def test_every_column_lands_in_its_own_field() -> None:
    row = namedtuple("Row", users_repo.LISTING_NAMES)(  # type: ignore[misc]
        id="00000000-0000-4000-8000-000000000001",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        display_name="Countess",
        title="Analyst",
        department="Engines",
        role_id="00000000-0000-4000-8000-000000000002",
        role_name="Auditor",
        team_id="00000000-0000-4000-8000-000000000003",
        team_name="EMEA",
        status="suspended",
        last_login_at="2026-01-02 03:04:05.678901",
        created_at="2025-06-07 08:09:10.111213",
        modified_at="2026-11-12 13:14:15.161718",
        username="ada",
        locale="en-GB",
        version=7,
        valid_from="2025-06-07 08:09:10.999999",
        expires_at="2027-01-01 00:00:00.000000",
    )
    assert UserOut.wire_of_listing(row) == {
        "id": "00000000-0000-4000-8000-000000000001",
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "displayName": "Countess",
        "title": "Analyst",
        "department": "Engines",
        "roleId": "00000000-0000-4000-8000-000000000002",
        "roleName": "Auditor",
        "teamId": "00000000-0000-4000-8000-000000000003",
        "teamName": "EMEA",
        "status": "suspended",
        "isActive": False,
        "lastLoginAt": "2026-01-02T03:04:05.678Z",
        "createdAt": "2025-06-07T08:09:10.111Z",
        "modifiedAt": "2026-11-12T13:14:15.161Z",
        "username": "ada",
        "locale": "en-GB",
        "validFrom": "2025-06-07T08:09:10.999Z",
        "expiresAt": "2027-01-01T00:00:00.000Z",
    }
