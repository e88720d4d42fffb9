"""Store upkeep after bulk changes."""

from __future__ import annotations

from sqlalchemy import text

from rosterd.db.engine import Database


def refresh_statistics(db: Database) -> None:
    """Bring the planner's statistics (and PostgreSQL's visibility map) up to date.

    Run after a bulk load: until autovacuum gets round to it, PostgreSQL plans a freshly
    loaded table from stale row counts and cannot answer counts from the index alone.
    VACUUM refuses to run inside a transaction, hence the autocommit connection.
    """
    if db.is_sqlite:
        with db.write_engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA optimize")
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("users", "group_memberships", "groups"):
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
