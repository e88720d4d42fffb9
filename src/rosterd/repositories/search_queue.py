"""SQLite's search index, brought up to date outside the requests that change users.

Triggers on ``users`` note each changed rowid in ``users_fts_pending`` (migration 0013
explains the table and its invariant); ``drain`` applies those notes to the trigram table
``users_fts`` in the caller's transaction, a batch at a time, and removes them, so each
drain is all or nothing. Until then searches consider the pending rows as well
(rosterd.repositories.user_search), whose LIKE keeps them exact.

Everything happens in a few statements per batch, not per user: FTS5 writes its pending
index data out at the end of each statement, and tokenizing a batch at once, outside the
requests' transactions, is what takes the index's cost off the single writer's path.
"""

from __future__ import annotations

from sqlalchemy import Connection

QUEUE = "users_fts_pending"
FTS = "users_fts"
# users_fts's columns, and the expression over a users row each indexes (as in migration 0004).
_INDEXED = (
    ("username", "username"),
    ("email", "email"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("display_name", "display_name"),
    ("phone", "phone"),
    ("full_name", "trim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"),
    ("id", "replace(CAST(id AS VARCHAR), '-', '')"),
)
_COLUMNS = ", ".join(name for name, _ in _INDEXED)
_VALUES = ", ".join(expression for _, expression in _INDEXED)

# All SQL here is built from this module's constants (S608 is about untrusted input).
_BATCH = (
    f"SELECT max(user_rowid), count(*) FROM "  # noqa: S608
    f"(SELECT user_rowid FROM {QUEUE} ORDER BY user_rowid LIMIT ?)"
)
# users_fts holds these rows with the values noted: a contentless table removes them by those.
_REMOVE_NOTED = (
    f"INSERT INTO {FTS}({FTS}, rowid, {_COLUMNS}) "  # noqa: S608
    f"SELECT 'delete', user_rowid, {_COLUMNS} FROM {QUEUE} WHERE user_rowid <= ? AND indexed"
)
_ADD_CURRENT = (
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) SELECT rowid, {_VALUES} FROM users "  # noqa: S608
    f"WHERE rowid IN (SELECT user_rowid FROM {QUEUE} WHERE user_rowid <= ?)"
)
_FORGET = f"DELETE FROM {QUEUE} WHERE user_rowid <= ?"  # noqa: S608
# Users past a rowid that have no pending row (see ``index_new``).
_ADD_NEW = (
    f"INSERT INTO {FTS}(rowid, {_COLUMNS}) SELECT rowid, {_VALUES} FROM users "  # noqa: S608
    f"WHERE rowid > ? AND rowid NOT IN (SELECT user_rowid FROM {QUEUE})"
)


def drain(connection: Connection, limit: int) -> int:
    """Index the ``limit`` pending users rows of lowest rowid (all of each row's changes at
    once), in the session's transaction; how many rows that was. 0: nothing was pending.

    The session must be a writer's: the batch is read and applied under its write lock, so
    no change to those rows slips in between.
    """
    last, count = connection.exec_driver_sql(_BATCH, (limit,)).one()
    if not count:
        return 0
    connection.exec_driver_sql(_REMOVE_NOTED, (last,))
    connection.exec_driver_sql(_ADD_CURRENT, (last,))
    connection.exec_driver_sql(_FORGET, (last,))
    return int(count)


def is_empty(connection: Connection) -> bool:
    """Whether no users row waits to be indexed."""
    return connection.exec_driver_sql(f"SELECT 1 FROM {QUEUE} LIMIT 1").first() is None  # noqa: S608


def index_new(connection: Connection, after_rowid: int) -> None:
    """Index the users rows past ``after_rowid`` at once, for a bulk load that wrote them with
    the noting trigger dropped (rosterd.repositories.bulk). A rowid that is pending anyway (a
    deleted row's rowid reused) is left to the indexer, which knows what users_fts holds for
    it."""
    connection.exec_driver_sql(_ADD_NEW, (after_rowid,))
