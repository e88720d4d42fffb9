"""The store's engines: concurrent writers on SQLite queue instead of failing or stalling."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from rosterd.db.engine import make_database
from rosterd.repositories import audit as audit_repo
from rosterd.runtime import Runtime
from tests.factories import bare_tenant


def test_concurrent_sqlite_writers_all_commit(tmp_path: Path) -> None:
    db = make_database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.writer.begin() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(20):
                with db.writer.begin() as session:
                    # Read, then write in one transaction: the pattern that fails with
                    # SQLITE_BUSY when a deferred transaction cannot upgrade its snapshot.
                    seen = session.execute(text("SELECT count(*) FROM t")).scalar_one()
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n * 100 + i + seen})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.reader() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 16 * 20
    db.dispose()


def test_sqlite_readers_see_committed_rows_while_a_writer_is_open(tmp_path: Path) -> None:
    db = make_database(f"sqlite:///{tmp_path / 'r.db'}")
    with db.writer.begin() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with db.writer() as writing:
        writing.execute(text("INSERT INTO t VALUES (2)"))
        with db.reader() as reading:
            assert reading.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
        writing.commit()
    db.dispose()


def test_json_columns_keep_their_values(runtime: Runtime) -> None:
    """JSON columns are written by orjson, and what it cannot encode by the standard
    library: every value reads back as it was given, on both databases."""
    tenant_id = bare_tenant(runtime)
    given = [
        {"ä": "ünïcode ✓", "n": 1, "x": 1.5, "none": None, "list": [True, False]},
        {"huge": 2**70},
        {1: "a key that is not text"},
    ]
    with runtime.db.writer.begin() as session:
        for n, value in enumerate(given):
            audit_repo.add(
                session,
                {
                    "tenant_id": tenant_id,
                    "actor": "json",
                    "surface": "test",
                    "action": "json",
                    "resource_type": "json",
                    "resource_id": str(n),
                    "before": value,
                    "after": None,
                    "request_id": None,
                },
            )
    with runtime.db.reader() as session:
        read = [
            audit_repo.for_resource(session, tenant_id, "json", str(n))[0].before
            for n in range(len(given))
        ]
    assert read == [given[0], given[1], {"1": "a key that is not text"}]
