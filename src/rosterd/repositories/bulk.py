"""Bulk writes for the import path: ``COPY`` on PostgreSQL, one prepared statement run with
executemany on SQLite; no ORM unit of work, no multi-row statements to re-parse.

Rows are dicts keyed by column name, as a Core ``insert()`` takes them, and are stored as
Core would store them: the columns of the first row, the Python-side defaults of the columns
it lacks, every value through its column type's own bind processor (JSON, enums, UUIDs and
times as SQLAlchemy sends them), and any driver error raised as SQLAlchemy's exception.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Column, Connection, Table, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from rosterd.models import AuditEvent, Group, GroupMembership, Role, Team, User
from rosterd.repositories import search_queue

# The SQLite trigger noting each new users row for the search indexer (migration 0013),
# which a bulk load does without: it indexes its rows itself (see ``_sqlite_users``).
_QUEUE_TRIGGER = "users_fts_pending_insert"


def name_maps(
    session: Session, tenant_id: uuid.UUID
) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """Lower-cased name → id of the tenant's groups, teams and roles."""

    def load(model: type[Group] | type[Team] | type[Role]) -> dict[str, uuid.UUID]:
        rows = session.execute(
            select(func.lower(model.name), model.id).where(model.tenant_id == tenant_id)
        )
        return {name: id_ for name, id_ in rows}

    return load(Group), load(Team), load(Role)


# Keys a lookup of existing users sends in one statement (SQLite allows 32,766 parameters).
_KEYS_PER_LOOKUP = 1000


def user_keys(session: Session, tenant_id: uuid.UUID) -> tuple[set[str], set[str]]:
    """Every username key of the tenant's users, and every address key they hold as unique:
    one read, for a load whose file has more users than the tenant."""
    usernames: set[str] = set()
    emails: set[str] = set()
    rows = session.execute(
        select(User.username_key, User.email_key, User.email_unique).where(
            User.tenant_id == tenant_id
        )
    )
    for username, email, unique in rows:
        usernames.add(username)
        if email is not None and unique:
            emails.add(email)
    return usernames, emails


def taken_user_keys(
    session: Session, tenant_id: uuid.UUID, username_keys: list[str], email_keys: list[str]
) -> tuple[set[str], set[str]]:
    """Of the given keys, the username keys the tenant's users have, and the email keys its
    users have as unique addresses (those a new user could not take); by the unique
    indexes, a statement per thousand keys."""
    usernames: set[str] = set()
    emails: set[str] = set()
    for start in range(0, len(username_keys), _KEYS_PER_LOOKUP):
        chunk = username_keys[start : start + _KEYS_PER_LOOKUP]
        usernames.update(
            session.scalars(
                select(User.username_key).where(
                    User.tenant_id == tenant_id, User.username_key.in_(chunk)
                )
            )
        )
    for start in range(0, len(email_keys), _KEYS_PER_LOOKUP):
        chunk = email_keys[start : start + _KEYS_PER_LOOKUP]
        emails.update(
            key
            for key in session.scalars(
                select(User.email_key).where(
                    User.tenant_id == tenant_id,
                    User.email_key.in_(chunk),
                    User.email_unique,
                )
            )
            if key is not None
        )
    return usernames, emails


# The page cache of the connection a load writes through, in KiB (SQLite's default is 2 MiB).
# Index pages are written in key order, which for a uuid or a name is random across the
# index: with the default cache a 100,000-user load spent more time re-reading index pages
# than inserting (6.6 s of CPU for users' b-trees, 3.6 s with this).
_SQLITE_LOAD_CACHE_KIB = 64 * 1024


def prepare_load(session: Session) -> None:
    """Size the batch's connection for a bulk load: on SQLite, a page cache that holds the
    indexes being written (the connection is the load's own writer; the setting is the
    connection's and costs nothing until pages are read). Nothing to do on PostgreSQL."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{_SQLITE_LOAD_CACHE_KIB}")


def insert_groups(session: Session, rows: list[dict[str, Any]]) -> None:
    _write(session, _table(Group), rows)


def insert_teams(session: Session, rows: list[dict[str, Any]]) -> None:
    _write(session, _table(Team), rows)


def insert_users(session: Session, rows: list[dict[str, Any]]) -> None:
    """Users; on SQLite, with the search index and tallies written once for all of them."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _sqlite_users(connection, rows)
    else:
        _write(session, _table(User), rows)


def insert_memberships(session: Session, rows: list[dict[str, Any]]) -> None:
    _write(session, _table(GroupMembership), rows)


def insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    _write(session, _table(AuditEvent), rows)


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _write(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
    else:
        _executemany(connection, table, rows)


def _stored_rows(
    connection: Connection, table: Table, rows: list[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and the values as the driver is to get them, as Core would send
    them: the first row's columns plus the Python-side defaults of the others."""
    dialect = connection.dialect
    given = [c for c in table.columns if c.key in rows[0]]
    defaulted = [c for c in table.columns if c.key not in rows[0] and c.default is not None]
    columns: list[list[Any]] = [[row[c.key] for row in rows] for c in given]
    columns += [[make() for _ in rows] for make in map(_default_of, defaulted)]
    for index, column in enumerate(given + defaulted):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            columns[index] = _processed(process, columns[index])
    return [c.name for c in given + defaulted], list(zip(*columns, strict=True))


def _processed(process: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """``values`` through ``process``; once when they are all one object (a batch's
    timestamps are its one ``now``: that was 630,000 calls of the time types' processing
    in a 100,000-user load)."""
    first = values[0]
    if all(value is first for value in values):
        return [process(first)] * len(values)
    return list(map(process, values))


def _default_of(column: Column[Any]) -> Callable[[], Any]:
    default = column.default
    arg = getattr(default, "arg", None)
    if getattr(default, "is_callable", False):
        # SQLAlchemy wraps a column's default function to take an execution context.
        return lambda: arg(None)  # type: ignore[misc]
    if getattr(default, "is_scalar", False):
        return lambda: arg
    raise TypeError(f"{column} has a default a bulk write cannot compute")


# Rows a SQLite statement carries: a multi-row VALUES takes fewer trips through the
# statement machinery per row than one statement a row (about 30% less CPU for users), within
# SQLite's limit of 32,766 parameters a statement.
_SQLITE_ROWS = 200


def _executemany(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT, prepared once and run by executemany for every full chunk of
    rows, and one for the remainder."""
    names, values = _stored_rows(connection, table, rows)
    row = f"({', '.join('?' * len(names))})"
    head = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES "  # noqa: S608
    full = len(values) - len(values) % _SQLITE_ROWS
    chunks = [
        tuple(itertools.chain.from_iterable(values[i : i + _SQLITE_ROWS]))
        for i in range(0, full, _SQLITE_ROWS)
    ]
    if chunks:
        connection.exec_driver_sql(head + ", ".join([row] * _SQLITE_ROWS), chunks)
    if rest := values[full:]:
        connection.exec_driver_sql(
            head + ", ".join([row] * len(rest)), tuple(itertools.chain.from_iterable(rest))
        )


def _copy(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    names, values = _stored_rows(connection, table, rows)
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            for row in values:
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, connection.dialect.loaded_dbapi.Error) from exc
    _keep_statistics(connection, table, len(rows))


def _keep_statistics(connection: Connection, table: Table, written: int) -> None:
    """ANALYZE ``table`` when the planner's row count for it is smaller than what was just
    written to it, so at most a few times in a load (the count then at least doubles).

    The foreign key checks of later rows (a membership's user and group, a group's parent)
    are queries the backend plans once and keeps. Planned against a table the statistics call
    empty, every index of users costs the same as its primary key, and PostgreSQL may pick
    one whose leading column is not ``id``: each check then reads that whole index, and a
    load of 100,000 users with 200,000 memberships took 135 s instead of about 8. ANALYZE
    (allowed in the batch's transaction, which it counts) updates the count and invalidates
    those plans. SKIP_LOCKED: a table another transaction is analyzing (a batch written at
    the same time, which holds that lock until it commits) is left to it, not waited for.
    """
    known = connection.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)", {"name": table.name}
    ).scalar()
    if known is not None and known < written:
        connection.exec_driver_sql(f"ANALYZE (SKIP_LOCKED) {table.name}")


def _sqlite_users(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Users on SQLite, indexed for search by one statement for the batch.

    A trigger notes every new users row for the background search indexer (migration 0013).
    A load of thousands of rows would leave it that many to catch up on, while every search
    also scans what is pending; so within the batch's transaction the trigger is dropped, the
    rows inserted, indexed at once by one INSERT ... SELECT (FTS5 writes its pending index
    data out once a statement, so not a row at a time), and the trigger created again from
    its own text. SQLite's DDL is transactional: a failure rolls all of it back, and other
    connections never see the trigger missing (they read the last commit, and the batch
    holds the only write lock).
    """
    trigger = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_QUEUE_TRIGGER,)
    ).scalar_one()
    connection.exec_driver_sql(f"DROP TRIGGER {_QUEUE_TRIGGER}")
    # New rows get rowids past the largest one (the batch holds the write lock).
    last = connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM users").scalar_one()
    _executemany(connection, _table(User), rows)
    search_queue.index_new(connection, last)
    connection.exec_driver_sql(trigger)
