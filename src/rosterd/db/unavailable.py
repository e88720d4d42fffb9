"""Telling a store that cannot serve now from a store that failed.

A PostgreSQL server at its connection limit, starting up or unreachable, a pool with every
connection busy for its whole timeout, or a SQLite file locked past the busy timeout: the
request was fine and may succeed in a moment, so it is answered 503 with ``Retry-After``
rather than as a bug. Any other driver error is not recognised here.
"""

from __future__ import annotations

import sqlite3

import asyncpg
import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATEs of a server refusing new work for now: insufficient resources, too many
# connections, a configuration limit, and "the database system is starting up".
_BUSY_STATES = frozenset({"53000", "53300", "53400", "57P03"})


def is_store_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the store is busy or unreachable (worth retrying later)."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: the connection could not be made, or was lost (no server answered).
        return exc.sqlstate is None or exc.sqlstate in _BUSY_STATES
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in _BUSY_STATES
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc) == "database is locked"
    return isinstance(exc, ConnectionRefusedError)


# The exception types to look at: what SQLAlchemy and asyncpg raise.
STORE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    PoolTimeout,
    asyncpg.PostgresError,
    ConnectionRefusedError,
)
