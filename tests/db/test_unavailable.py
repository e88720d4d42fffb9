"""Which driver errors mean "the store cannot serve now" (a 503 to retry), and which not."""

from __future__ import annotations

import sqlite3

import asyncpg
import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from rosterd.db.unavailable import is_store_unavailable


def _wrapped(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(pg_errors.TooManyConnections("sorry, too many clients already")),
        _wrapped(pg_errors.CannotConnectNow("the database system is starting up")),
        _wrapped(psycopg.OperationalError("connection failed: Connection refused")),
        _wrapped(sqlite3.OperationalError("database is locked")),
        PoolTimeout("QueuePool limit of size 10 overflow 0 reached"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_a_busy_or_unreachable_store(exc: Exception) -> None:
    assert is_store_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _wrapped(sqlite3.OperationalError("no such table: users")),
        _wrapped(pg_errors.QueryCanceled("canceling statement due to statement timeout")),
        ProgrammingError("SELECT", {}, pg_errors.UndefinedColumn("column x does not exist")),
        asyncpg.exceptions.UndefinedColumnError("column x does not exist"),
        ValueError("not a store error"),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_other_errors_are_not_mistaken_for_a_busy_store(exc: Exception) -> None:
    assert not is_store_unavailable(exc)
