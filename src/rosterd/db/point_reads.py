"""Where point reads (a few rows by index, rosterd.db.prepared) run, on each store.

- SQLite: on the event loop, on a read connection kept for point reads for the life of the
  runner. sqlite3 answers a primary-key lookup in microseconds, less than a pool
  checkout, let alone a hand-off to a worker thread. The connection is in autocommit (the
  engine's ``connect`` hook sets ``isolation_level=None``) and each read is fetched to the
  end, so no read transaction stays open between requests.
- PostgreSQL: on psycopg's asynchronous connections, from a pool per event loop
  (psycopg_pool), in autocommit. A read awaits its round trip on the loop instead of
  taking a worker thread: under 16 connections a lookup cost 49 µs of CPU this way and
  105 µs through the thread pool, before counting the GIL contention the threads add to
  everything else the loop does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Dialect, Engine, PoolProxiedConnection

from rosterd.db.prepared import PointReader

T = TypeVar("T")
# How the point-read connections show in pg_stat_activity.
APPLICATION_NAME = "rosterd point reads"
PointRead = Callable[[PointReader], Awaitable[T]]


@dataclass(frozen=True)
class _Sqlite3Reader:
    connection: Any  # sqlite3.Connection
    dialect: Dialect

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, arguments)
            rows: Sequence[Sequence[Any]] = cursor.fetchall()
        finally:
            cursor.close()
        return rows


class SqlitePointReads:
    """Point reads on sqlite3 connections kept by this object, run where they are asked for
    (the event loop). A read does not await, so a connection serves one read at a time; the
    free list holds as many as were ever needed at once (one per loop, as a rule). They are
    made by the read engine (its connect hook sets autocommit and the pragmas) and detached
    from its pool, which they would otherwise appear to hold for good."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._free: list[_Sqlite3Reader] = []
        self._made: list[PoolProxiedConnection] = []
        self._guard = threading.Lock()

    async def run(self, read: PointRead[T]) -> T:
        try:
            reader = self._free.pop()
        except IndexError:
            reader = self._make()
        try:
            return await read(reader)
        finally:
            self._free.append(reader)

    def _make(self) -> _Sqlite3Reader:
        pooled = self._engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        with self._guard:
            self._made.append(pooled)
        return _Sqlite3Reader(connection, self._engine.dialect)

    def close(self) -> None:
        with self._guard:
            for pooled in self._made:
                pooled.close()
            self._made.clear()
            self._free.clear()


@dataclass(frozen=True)
class _PsycopgReader:
    connection: psycopg.AsyncConnection[Any]
    dialect: Dialect

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        async with self.connection.cursor() as cursor:
            await cursor.execute(sql, arguments)
            return await cursor.fetchall()


class PsycopgPointReads:
    """Point reads on a pool of asynchronous psycopg connections per event loop (a pool's
    connections belong to the loop that made them)."""

    def __init__(self, engine: Engine, *, size: int, prepare_threshold: int | None) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._dialect = engine.dialect
        self._size = size
        self._prepare_threshold = prepare_threshold
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]] = {}

    async def _pool(self) -> AsyncConnectionPool[Any]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = AsyncConnectionPool(
                self._conninfo,
                min_size=1,
                max_size=self._size,
                kwargs={
                    "autocommit": True,
                    "prepare_threshold": self._prepare_threshold,
                    "application_name": APPLICATION_NAME,
                },
                open=False,
            )
            self._pools[loop] = pool
            await pool.open(wait=False)
        return pool

    async def run(self, read: PointRead[T]) -> T:
        """``read`` on a pooled connection. The pool does not check a connection before
        handing it out (a round trip per read); one found dead is discarded by the pool and
        the read runs again on another, as many times as the pool may hold connections (a
        database restart leaves every one of them dead)."""
        pool = await self._pool()
        attempts = self._size + 1
        for attempt in range(attempts):
            async with pool.connection() as connection:
                try:
                    return await read(_PsycopgReader(connection, self._dialect))
                except psycopg.OperationalError:
                    if attempt + 1 == attempts or not connection.broken:
                        raise
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Close this loop's pool (its connections cannot be closed from another loop)."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()
