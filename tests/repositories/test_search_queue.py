"""SQLite's search queue: user writes note their rows, ``drain`` indexes exactly those.

The index is checked against what it stands for: for a set of needles, the users rows
users_fts matches must be exactly those whose indexed values contain the needle (a LIKE scan
of users). A contentless FTS5 table takes any 'delete' it is given, so a drain that removed
a row with values other than those it was indexed with would leave stale matches behind, and
one that indexed a row twice or missed it would show too. Each test has a store of its own:
the checks cover every row of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, text, update

from rosterd.config import Settings
from rosterd.models import User
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import search_queue
from rosterd.runtime import Runtime
from tests.factories import bare_tenant, own_sqlite_runtime, stored_user

# Every indexed expression, as users_fts has it (migration 0004).
INDEXED = (
    "username",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "phone",
    "trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))",
    "replace(CAST(id AS VARCHAR), '-', '')",
)
# Some indexed value of the row contains :n (ASCII: lower() folds as FTS5 does).
CONTAINS = " OR ".join(f"instr(lower({expression}), lower(:n)) > 0" for expression in INDEXED)


@pytest.fixture
def runtime(backend: str, settings: Settings, tmp_path: Any) -> Iterator[Runtime]:
    if backend != "sqlite":
        pytest.skip("PostgreSQL maintains its trigram indexes in the writing transaction")
    with own_sqlite_runtime(settings, tmp_path) as own:
        yield own


def indexed_rows(runtime: Runtime, needle: str) -> set[int]:
    with runtime.db.reader() as session:
        rows = session.execute(
            text("SELECT rowid FROM users_fts WHERE users_fts MATCH :q"), {"q": f'"{needle}"'}
        )
        return {rowid for (rowid,) in rows}


def scanned_rows(runtime: Runtime, needle: str) -> set[int]:
    """The users rows with an indexed value containing ``needle``."""
    with runtime.db.reader() as session:
        rows = session.execute(
            text(f"SELECT rowid FROM users WHERE {CONTAINS}"),  # noqa: S608
            {"n": needle},
        )
        return {rowid for (rowid,) in rows}


def pending(runtime: Runtime) -> int:
    with runtime.db.reader() as session:
        return int(session.execute(text("SELECT count(*) FROM users_fts_pending")).scalar_one())


def assert_index_matches_users(runtime: Runtime, needles: list[str]) -> None:
    assert pending(runtime) == 0
    for needle in needles:
        assert indexed_rows(runtime, needle) == scanned_rows(runtime, needle), needle


def drain(runtime: Runtime, limit: int) -> int:
    with runtime.db.writer.begin() as session:
        return search_queue.drain(session.connection(), limit)


def add(runtime: Runtime, tenant_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    with runtime.db.writer.begin() as session:
        user = stored_user(tenant_id=tenant_id, number=fields.pop("number", 1), **fields)
        session.add(user)
        session.flush()
        return user.id


def set_fields(runtime: Runtime, user_id: uuid.UUID, **fields: Any) -> None:
    with runtime.db.writer.begin() as session:
        session.execute(update(User).where(User.id == user_id).values(**fields))


def remove(runtime: Runtime, user_id: uuid.UUID) -> None:
    with runtime.db.writer.begin() as session:
        session.execute(delete(User).where(User.id == user_id))


def test_writes_are_noted_and_a_drain_indexes_them_exactly_once(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    kept = add(runtime, tenant_id, username="alice.kept", first_name="Alice", last_name="Kept")
    renamed = add(runtime, tenant_id, username="bob.before", number=2, last_name="Before")
    gone = add(runtime, tenant_id, username="carol.gone", number=3, email="carol@gone.test")
    assert (pending(runtime), indexed_rows(runtime, "kept")) == (3, set())
    assert drain(runtime, 500) == 3
    needles = ["alice", "kept", "bob", "before", "after", "carol", "gone", "ice ke", "zed"]
    assert_index_matches_users(runtime, needles)

    # Several writes to a row before the next drain, and one that leaves the index alone.
    set_fields(runtime, renamed, last_name="Middle")
    set_fields(runtime, renamed, last_name="After", username="bob.after")
    set_fields(runtime, kept, title="Engineer")
    fresh = add(runtime, tenant_id, username="zed.fresh", number=4)
    remove(runtime, gone)
    remove(runtime, fresh)
    assert pending(runtime) == 3  # renamed, gone, fresh: one row each
    # Until the drain the index still holds what it held: the searches' LIKE copes.
    assert len(indexed_rows(runtime, "before")) == 1
    assert drain(runtime, 500) == 3
    # The deleted rows' ids too: removed with the values they were indexed with.
    needles += ["middle", "fresh", gone.hex[4:16], fresh.hex[4:16], renamed.hex[4:16]]
    assert_index_matches_users(runtime, needles)
    assert indexed_rows(runtime, "before") == set()
    # Nothing left: a second drain does nothing.
    assert drain(runtime, 500) == 0
    assert_index_matches_users(runtime, needles)


def test_a_drain_takes_at_most_its_limit_lowest_rowids_first(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    for n in range(7):
        add(runtime, tenant_id, username=f"batch.{n}.user", number=n + 1)
    assert [drain(runtime, 3) for _ in range(4)] == [3, 3, 1, 0]
    assert_index_matches_users(runtime, ["batch", "batch.0", "batch.6", "1.user"])


def test_a_reused_rowid_is_indexed_with_its_new_row(runtime: Runtime) -> None:
    """SQLite gives a new row the largest rowid plus one: a deleted last row's rowid again."""
    tenant_id = bare_tenant(runtime)
    add(runtime, tenant_id, username="first.row")
    last = add(runtime, tenant_id, username="old.owner", number=2)
    drain(runtime, 500)
    before = indexed_rows(runtime, "old.owner")
    remove(runtime, last)
    reusing = add(runtime, tenant_id, username="new.owner", number=3)
    assert indexed_rows(runtime, "new.owner") == set()
    with runtime.db.reader() as session:
        (rowid,) = session.execute(
            text("SELECT rowid FROM users WHERE id = :id"), {"id": reusing.hex}
        ).one()
    assert {rowid} == before
    assert drain(runtime, 500) == 1
    assert_index_matches_users(runtime, ["old.owner", "new.owner", "owner", "first"])

    # Reused before the first drain too: never indexed, so nothing to remove.
    remove(runtime, reusing)
    again = add(runtime, tenant_id, username="third.owner", number=4)
    remove(runtime, again)
    add(runtime, tenant_id, username="fourth.owner", number=5)
    assert drain(runtime, 500) == 1
    assert_index_matches_users(runtime, ["owner", "third", "fourth", "new.owner"])


def test_a_bulk_load_indexes_its_rows_at_once(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    # A pending rowid the load will reuse: the indexer, not the load, must index it.
    add(runtime, tenant_id, username="kept.one")
    reused = add(runtime, tenant_id, username="reused.slot", number=2)
    drain(runtime, 500)
    remove(runtime, reused)
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "number": n,
            "username": f"loaded.{n}",
            "username_key": f"loaded.{n}",
            "last_name": f"Bulk{n}",
        }
        for n in range(10, 20)
    ]
    with runtime.db.writer.begin() as session:
        bulk_repo.insert_users(session, rows)
    assert pending(runtime) == 1  # the deleted row's, now the first loaded row's rowid
    assert len(indexed_rows(runtime, "loaded")) == 9
    assert drain(runtime, 500) == 1
    assert_index_matches_users(runtime, ["loaded", "bulk1", "reused", "kept", "loaded.10"])
    # The load put the noting trigger back.
    add(runtime, tenant_id, username="after.load", number=30)
    assert pending(runtime) == 1
