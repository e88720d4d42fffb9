"""Non-unique indexes set aside during a bulk load on SQLite, and built again after it.

A 100,000-user load wrote users' 21 indexes a row at a time, each row to a random place in
each of them, and SQLite copied every page a statement touched into its statement journal
first: 2.3 million page writes to temporary files for 347 MB of store (strace), and most of
the load's time. Without the 16 non-unique indexes of users and the 2 of
group_memberships the same rows go in several times faster, and building the indexes
afterwards, each in one sorted pass, costs less than keeping them up to date did.

The unique indexes stay: they are constraints, which the load relies on and a server
writing meanwhile must not be able to break. A server serving the store during the load
answers as before, only without those indexes' help (slower lists and sorts) until the
load ends. Each index's statement goes into ``deferred_indexes`` in the transaction that
drops it, so every index is always either in the schema or there; ``restore`` builds what
is there (after a load, and whenever a load or ``rosterd serve`` starts, for a load that was
killed before it could). Building an index that another load already built is a no-op.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from rosterd.models import DeferredIndex

TABLES = ("users", "group_memberships")


def defer(connection: Connection) -> int:
    """Drop the non-unique indexes of ``TABLES``, noting each; how many. SQLite only (no-op
    elsewhere), inside the caller's write transaction."""
    if connection.dialect.name != "sqlite":
        return 0
    dropped = 0
    for table in TABLES:
        # (seq, name, unique, origin, partial); origin "c": made by CREATE INDEX.
        for _, name, unique, origin, _ in connection.exec_driver_sql(
            f"PRAGMA index_list({table})"
        ).all():
            if unique or origin != "c":
                continue
            ddl = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).scalar_one()
            connection.execute(insert(DeferredIndex).values(name=name, ddl=ddl))
            connection.exec_driver_sql(f'DROP INDEX "{name}"')
            dropped += 1
    return dropped


def restore(connection: Connection) -> int:
    """Build every index ``defer`` set aside and forget it; how many were built."""
    built = 0
    for name, ddl in connection.execute(select(DeferredIndex.name, DeferredIndex.ddl)).all():
        present = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).scalar()
        if present is None:
            connection.exec_driver_sql(ddl)
            built += 1
        connection.execute(delete(DeferredIndex).where(DeferredIndex.name == name))
    return built
