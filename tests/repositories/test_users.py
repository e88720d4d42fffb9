"""users.search_listing (the rows a REST list page is built from) against users.search."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

import pytest

from rosterd.models import Role, Team, Tenant, UserStatus
from rosterd.repositories import users as users_repo
from rosterd.repositories._sql import page_total
from rosterd.repositories.scim_filter import KeyLookup
from rosterd.runtime import Runtime
from tests.factories import stored_user


@pytest.fixture
def tenant_id(runtime: Runtime) -> uuid.UUID:
    """A tenant of five users, some with a role and a team, one without names."""
    token = secrets.token_hex(4)
    with runtime.db.writer.begin() as session:
        tenant = Tenant(slug=f"t-{token}", name="t", settings={})
        session.add(tenant)
        session.flush()
        role = Role(tenant_id=tenant.id, name="Auditor")
        team = Team(tenant_id=tenant.id, name="EMEA")
        session.add_all([role, team])
        session.flush()
        people = [
            ("Ada", "Martin", UserStatus.active, role.id, team.id),
            ("Bo", "Martinez", UserStatus.suspended, None, team.id),
            ("Cy", "Adams", UserStatus.active, role.id, None),
            (None, None, UserStatus.active, None, None),
            ("Di", "Zeller", UserStatus.inactive, None, None),
        ]
        for n, (first, last, status, role_id, team_id) in enumerate(people, start=1):
            session.add(
                stored_user(
                    tenant_id=tenant.id,
                    number=n,
                    username=f"{token}-user{n}",
                    email=f"user{n}-{token}@example.com",
                    first_name=first,
                    last_name=last,
                    status=status,
                    role_id=role_id,
                    team_id=team_id,
                )
            )
        return tenant.id


@pytest.mark.parametrize(
    "q",
    [
        users_repo.UserQuery(),
        users_repo.UserQuery(status=UserStatus.active, sort_by="name", limit=2),
        users_repo.UserQuery(status=UserStatus.active, sort_by="name", offset=2, limit=2),
        users_repo.UserQuery(search="rtin", sort_by="email", descending=True),
        users_repo.UserQuery(is_active=False, sort_by="createdAt"),
        users_repo.UserQuery(sort_by="name", descending=True),
        users_repo.UserQuery(search="rtin", sort_by="name", limit=1),
        users_repo.UserQuery(search="rtin", sort_by="name", offset=1, limit=1),
        users_repo.UserQuery(search="example", sort_by="name", descending=True, limit=4),
        users_repo.UserQuery(search="example", sort_by="lastLoginAt", offset=1, limit=3),
    ],
    ids=[
        "all",
        "active-page-1",
        "active-page-2",
        "search",
        "not-active",
        "name-desc",
        "search-by-name-page-1",
        "search-by-name-page-2",
        "search-by-name-desc",
        "search-by-login-page-2",
    ],
)
def test_listing_rows_are_the_users_search_finds(
    runtime: Runtime, tenant_id: uuid.UUID, q: users_repo.UserQuery
) -> None:
    with runtime.db.reader() as session:
        users, total = users_repo.search(session, tenant_id, q)
        rows, row_total = users_repo.search_listing(session, tenant_id, q)
        expected = [
            (
                u.id,
                u.first_name,
                u.last_name,
                u.status,
                u.role.name if u.role else None,
                u.team.name if u.team else None,
            )
            for u in users
        ]
    assert users, "every query here matches someone"
    got = [
        (uuid.UUID(r.id), r.first_name, r.last_name, r.status, r.role_name, r.team_name)
        for r in rows
    ]
    assert (got, row_total) == (expected, users_repo.Total(total))


@pytest.mark.parametrize(
    ("shown", "offset", "limit", "total"),
    [
        (3, 0, 10, 3),  # room left on the first page: that is everything
        (3, 20, 10, 23),  # room left further on
        (0, 0, 10, 0),  # nothing at all
        (10, 0, 10, 99),  # a full page: more may follow, so count
        (0, 200, 10, 99),  # past the end: the page cannot say how far, so count
        (0, 0, 0, 99),  # no page asked for (SCIM count=0), so count
    ],
)
def test_page_total_counts_only_when_the_page_cannot_tell(
    shown: int, offset: int, limit: int, total: int
) -> None:
    assert page_total(shown, offset, limit, counted=lambda: 99) == total


@pytest.mark.parametrize("sort_by", ["name", "lastLoginAt", "createdAt", "email", "username"])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("search", [None, "example"])
@pytest.mark.parametrize("size", [1, 2, 3])
def test_keyset_pages_walk_the_offset_order(
    runtime: Runtime,
    tenant_id: uuid.UUID,
    sort_by: users_repo.SortKey,
    descending: bool,
    search: str | None,
    size: int,
) -> None:
    """Page after page from each page's last keyset (listing_rows, which SQLite reads in
    parts split at the leading NULL flag) is the order of one offset page of everyone,
    across ties, users without a value, and the boundary between the two."""
    with runtime.db.writer.begin() as session:
        ids = [uuid.UUID(r.id) for r in users_repo.listing_rows(session, tenant_id,
               users_repo.UserQuery(sort_by="createdAt", limit=10))]  # fmt: skip
        # Two tie on their last sign-in; the rest never signed in.
        for user_id in ids[:2]:
            users_repo.record_sign_in(session, tenant_id, user_id, datetime(2026, 1, 1, tzinfo=UTC))
    with runtime.db.reader.begin() as session:
        q = users_repo.UserQuery(search=search, sort_by=sort_by, descending=descending, limit=50)
        everyone = [r.id for r in users_repo.listing_rows(session, tenant_id, q)]
        walked: list[str] = []
        after = None
        while True:
            page = users_repo.listing_rows(
                session, tenant_id, users_repo.UserQuery(
                    search=search, sort_by=sort_by, descending=descending, limit=size, after=after
                ),
            )  # fmt: skip
            walked += [r.id for r in page]
            if len(page) < size:
                break
            after = users_repo.keyset_of(session, tenant_id, sort_by, uuid.UUID(page[-1].id))
        assert walked == everyone
        assert len(everyone) == 5


@pytest.mark.parametrize(
    ("lookup", "index_column"),
    [
        (KeyLookup("username", "someone"), "username_key"),
        (KeyLookup("emails", "someone@example.com"), "email_key"),
        (KeyLookup("id", uuid.UUID(int=7)), "id"),
    ],
)
def test_a_key_lookup_reads_the_keys_index(
    runtime: Runtime, backend: str, tenant_id: uuid.UUID, lookup: KeyLookup, index_column: str
) -> None:
    """``find_by_key`` (the SCIM lookups before a create) reads an index on its key, never the
    tenant's users: with an ORDER BY, SQLite preferred walking them in creation order.
    (PostgreSQL chooses by its statistics, which a test's few users do not make telling; at a
    million users it reads the key's index, BENCHMARKS.md.)"""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's planner chooses from statistics")
    with runtime.db.reader() as session:
        connection = session.connection()
        sql, params = users_repo.find_by_key_sql(connection.dialect, tenant_id, lookup)
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = "\n".join(str(row[3]) for row in rows)
        assert plan.startswith("SEARCH users USING INDEX"), plan
        assert f"{index_column}=?" in plan, plan
