"""The unbounded lists of /api/v1 at a size PostgreSQL cannot take in one IN (...): more users
(and more members of one group) than its 65,535 bind parameters a statement.

The tenant is made through the bulk import path (``rosterd import``), not over HTTP, and
deleted afterwards (its rows cascade).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from rosterd.db.maintenance import refresh_statistics
from rosterd.models import Tenant
from rosterd.runtime import Runtime
from rosterd.services import imports as imports_service
from rosterd.services.context import Actor
from rosterd.services.imports import GroupRecord, Names, UserRecord
from tests.api.v1.support import GROUPS, USERS, make_admin
from tests.factories import TenantHandle, make_tenant

USER_COUNT = 70_000
# Above PostgreSQL's 65,535 bind parameters, so a query with one parameter per member fails.
BIG_GROUP = 66_000
BATCH = 10_000


@dataclass
class Directory:
    tenant: TenantHandle
    headers: dict[str, str]
    # email -> names of the user's groups, for every user
    groups_of: dict[str, set[str]]
    group_ids: dict[str, uuid.UUID]


def _groups(i: int) -> list[str]:
    """The groups of the i-th user: most are in "big", every 10th in "tens" too, every 7th
    in "sevens"; the rest of the users are in none."""
    names = ["big"] if i < BIG_GROUP else []
    return names + [n for n, k in (("tens", 10), ("sevens", 7)) if i % k == 0]


@pytest.fixture(scope="module")
def directory(backend: str, runtime: Runtime, http: TestClient) -> Iterator[Directory]:
    if backend != "postgresql":
        pytest.skip("the bind-parameter limit is PostgreSQL's")
    tenant = make_tenant(runtime, http)
    actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
    try:
        with runtime.db.writer.begin() as session:
            names = Names.load(session, tenant.id)
            groups = [GroupRecord(type="group", name=n) for n in ("big", "tens", "sevens")]
            imports_service.import_batch(session, actor, names, enumerate(groups, 1))
        groups_of: dict[str, set[str]] = {}
        for start in range(0, USER_COUNT, BATCH):
            batch = []
            for i in range(start, min(start + BATCH, USER_COUNT)):
                email = f"user{i}@example.com"
                groups_of[email] = set(_groups(i))
                record = UserRecord(type="user", email=email, first_name="Bulk", groups=_groups(i))
                batch.append((i + 1, record))
            with runtime.db.writer.begin() as session:
                imports_service.import_batch(session, actor, names, batch)
        # As `rosterd import` does after a bulk load: the planner must know the tables grew.
        refresh_statistics(runtime.db)
        admin = make_admin(tenant)
        yield Directory(
            tenant=tenant,
            headers=admin.headers(http),
            groups_of=groups_of,
            group_ids=dict(names.groups),
        )
    finally:
        with runtime.db.writer.begin() as session:
            session.execute(delete(Tenant).where(Tenant.id == tenant.id))


def test_every_user_listed_without_a_limit(http: TestClient, directory: Directory) -> None:
    r = http.get(USERS, headers=directory.headers)
    assert r.status_code == 200, r.text[:500]
    users = r.json()
    assert len(users) == USER_COUNT
    assert len({u["_id"] for u in users}) == USER_COUNT
    assert {u["email"] for u in users} == set(directory.groups_of)
    names = {str(gid): name for name, gid in directory.group_ids.items()}
    for user in users[:: USER_COUNT // 100] + users[-3:]:
        assert {names[g] for g in user["groups"]} == directory.groups_of[user["email"]], user

    # skip and limit select from the same order, across chunks too.
    skip = USER_COUNT - 1_500
    r = http.get(USERS, params={"skip": skip, "limit": 3_000}, headers=directory.headers)
    assert r.status_code == 200, r.text[:500]
    assert r.json() == users[skip:]


def test_a_group_with_more_members_than_bind_parameters(
    http: TestClient, directory: Directory
) -> None:
    r = http.get(GROUPS, params={"expand": "users"}, headers=directory.headers)
    assert r.status_code == 200, r.text[:500]
    groups = {g["name"]: g for g in r.json()}
    assert set(groups) == {"big", "tens", "sevens"}
    for name, group in groups.items():
        expected = {e for e, names in directory.groups_of.items() if name in names}
        assert {u["email"] for u in group["users"]} == expected
    assert len(groups["big"]["users"]) == BIG_GROUP
