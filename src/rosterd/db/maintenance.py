"""Store upkeep after bulk changes."""

from __future__ import annotations

from sqlalchemy import Connection, text

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


def extensions_in_public(conn: Connection) -> None:
    """Put the PostgreSQL extensions rosterd uses (pg_trgm, migration 0004) in ``public``.

    An extension is one per database and lives in one schema; 0004 creates it in the first
    schema of the search path when it is missing. Where several rosterd stores share a
    database, one schema each (tests, benchmarks), dropping the schema that happened to get
    it would drop it for all of them, and every other store's trigram indexes with it. Run
    before such schemas are created or dropped; ``conn`` must be in autocommit.
    """
    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
    where = "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    if conn.scalar(text(where)) != "public":
        conn.execute(text("ALTER EXTENSION pg_trgm SET SCHEMA public"))
