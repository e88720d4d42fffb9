"""Migrations 0004 and 0013: the substring-search index objects come and go, start out
filled, and (0013) hand over between indexing in the writing transaction and the queue.

The models cannot declare them (an FTS5 table and triggers on SQLite, pg_trgm GIN indexes on
PostgreSQL), so Alembic's comparison leaves them out and these tests check them by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    insert,
    text,
)
from sqlalchemy.orm import Session

from rosterd.db.engine import make_database
from rosterd.db.migrate import upgrade
from rosterd.models import Tenant, User
from rosterd.models.base import UTCDateTime
from rosterd.repositories import users as users_repo
from tests.backends import database_url
from tests.db.test_migrations import _downgrade
from tests.factories import stored_user

SEARCHED = ("username", "email", "first_name", "last_name", "display_name", "phone")
PG_INDEXES = {f"ix_users_trgm_{name}" for name in (*SEARCHED, "full_name", "id")}
SQLITE_OBJECTS = {
    ("table", "users_fts"),
    ("trigger", "users_fts_insert"),
    ("trigger", "users_fts_delete"),
    ("trigger", "users_fts_update"),
}
# Since 0013 the triggers note changes for the background indexer instead.
SQLITE_HEAD_OBJECTS = {
    ("table", "users_fts"),
    ("table", "users_fts_pending"),
    ("trigger", "users_fts_pending_insert"),
    ("trigger", "users_fts_pending_delete"),
    ("trigger", "users_fts_pending_update"),
}


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with database_url(backend, tmp_path) as url:
        db = make_database(url, pool_size=2)
        try:
            yield db.write_engine
        finally:
            db.dispose()


def _search_objects(conn: Connection) -> set[tuple[str, str]]:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(
            text("SELECT type, name FROM sqlite_master WHERE name LIKE 'users_fts%'")
        )
        return {(kind, name) for kind, name in rows}
    rows = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND indexname LIKE 'ix_users_trgm_%'"
        )
    )
    out = set()
    for name, ddl in rows:
        assert "USING gin" in ddl and "gin_trgm_ops" in ddl and "lower(" in ddl, ddl
        out.add(("index", name))
    return out


def _expected(backend: str, *, head: bool = False) -> set[tuple[str, str]]:
    if backend == "sqlite":
        return SQLITE_HEAD_OBJECTS if head else SQLITE_OBJECTS
    return {("index", name) for name in PG_INDEXES}


def test_0004_builds_the_search_objects_and_its_downgrade_drops_them(
    engine: Engine, backend: str
) -> None:
    upgrade(engine, "0004")
    with engine.connect() as conn:
        # SQLite also lists the FTS5 shadow tables (users_fts_data, ...).
        assert _expected(backend) <= _search_objects(conn)
    _downgrade(engine, "0003")
    with engine.connect() as conn:
        assert _search_objects(conn) == set()
    upgrade(engine)
    with engine.connect() as conn:
        found = _search_objects(conn)
    assert _expected(backend, head=True) <= found
    assert not SQLITE_OBJECTS - SQLITE_HEAD_OBJECTS & found


# Slices of tables as they are at 0003, for writing rows below the head revision.
_meta_0003 = MetaData()
_tenants_0003 = Table(
    "tenants",
    _meta_0003,
    Column("id", Uuid),
    Column("slug", String),
    Column("name", String),
    Column("settings", JSON),
    Column("last_user_number", Integer),
    Column("created_at", UTCDateTime()),
)
_users_0003 = Table(
    "users",
    _meta_0003,
    Column("id", Uuid),
    Column("tenant_id", Uuid),
    Column("number", Integer),
    Column("username", String),
    Column("email", String),
    Column("first_name", String),
    Column("last_name", String),
    Column("status", String),
    Column("created_at", UTCDateTime()),
    Column("modified_at", UTCDateTime()),
    Column("version", Integer),
)


def test_0004_indexes_the_users_already_there(engine: Engine) -> None:
    upgrade(engine, "0003")
    tenant_id = uuid.uuid4()
    now = datetime.now(UTC)
    names = [("Martin", "Wright"), ("Karen", "Jones")]
    with engine.begin() as conn:
        conn.execute(
            _tenants_0003.insert().values(
                id=tenant_id, slug="t", name="t", settings={}, last_user_number=2, created_at=now
            )
        )
        conn.execute(
            _users_0003.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "number": number,
                    "username": f"{first}.{last}".lower(),
                    "email": f"{first}@example.com".lower(),
                    "first_name": first,
                    "last_name": last,
                    "status": "active",
                    "created_at": now,
                    "modified_at": now,
                    "version": 1,
                }
                for number, (first, last) in enumerate(names, start=1)
            ],
        )

    upgrade(engine)
    with Session(engine) as session:
        found, total = users_repo.search(session, tenant_id, users_repo.UserQuery(search="RTIN"))
        assert ([u.first_name for u in found], total) == (["Martin"], 1)
        page = users_repo.page_after(
            session, tenant_id, search="tin wri", created_before=None, ids=None, after=None, limit=9
        )
        assert [u.last_name for u in page] == ["Wright"]
        if engine.dialect.name == "sqlite":
            # The FTS table holds both rows, not only those the LIKE after it lets through.
            matched = session.execute(
                text("SELECT count(*) FROM users_fts WHERE users_fts MATCH :q"),
                {"q": '"mple.com"'},
            ).scalar_one()
            assert matched == 2


def _fts_rows(conn: Connection, needle: str) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM users_fts WHERE users_fts MATCH :q"), {"q": f'"{needle}"'}
        ).scalar_one()
    )


def _old_user(session: Session, tenant_id: uuid.UUID, number: int, username: str) -> uuid.UUID:
    """A user written into a store at an older revision: the columns every revision since
    0007 has (the model has more, which that store lacks)."""
    user_id = uuid.uuid4()
    session.execute(
        insert(cast(Table, User.__table__)).values(
            id=user_id, tenant_id=tenant_id, number=number, username=username, username_key=username
        )
    )
    return user_id


def test_0013_queues_changes_and_its_downgrade_indexes_what_is_pending(
    engine: Engine, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("0013 changes nothing on PostgreSQL")
    upgrade(engine, "0012")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(slug="t", name="t", settings={})
        session.add(tenant)
        session.flush()
        kept_id = _old_user(session, tenant.id, 1, "kept.before")
    with engine.connect() as conn:
        assert _fts_rows(conn, "kept.before") == 1  # 0004's triggers: indexed at once

    upgrade(engine)
    with Session(engine) as session, session.begin():
        user = session.get(User, kept_id)
        assert user is not None
        user.username = "kept.after"
        session.add(stored_user(tenant_id=tenant.id, number=2, username="added.later"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users_fts_pending")).scalar_one() == 2
        assert [_fts_rows(conn, n) for n in ("kept.before", "kept.after", "added")] == [1, 0, 0]

    _downgrade(engine, "0012")
    with engine.connect() as conn:
        assert [_fts_rows(conn, n) for n in ("kept.before", "kept.after", "added")] == [0, 1, 1]
        assert ("table", "users_fts_pending") not in _search_objects(conn)
    # 0004's triggers are back.
    with Session(engine) as session, session.begin():
        _old_user(session, tenant.id, 3, "third.user")
    with engine.connect() as conn:
        assert _fts_rows(conn, "third") == 1
