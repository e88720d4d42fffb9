"""Where point reads (a few rows by index, rosterd.db.prepared) run, on each store.

- SQLite: on the event loop, on a read connection kept for point reads for the life of the
  runner. sqlite3 answers a primary-key lookup in microseconds, less than a pool
  checkout, let alone a hand-off to a worker thread. The connection is in autocommit (the
  engine's ``connect`` hook sets ``isolation_level=None``) and each read is fetched to the
  end, so no read transaction stays open between requests.
- PostgreSQL: on asyncpg connections, from a pool per event loop, outside any transaction.
  A read awaits its round trip on the loop instead of taking a worker thread (under 16
  connections a lookup cost 49 µs of CPU this way and 105 µs through the thread pool,
  before counting the GIL contention the threads add to everything else the loop does);
  asyncpg's protocol, written for asyncio, took 57 µs of CPU for a lookup where psycopg's
  asynchronous connections from psycopg_pool took 188 µs.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from sqlalchemy import Dialect, Engine, PoolProxiedConnection
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from rosterd.db.engine import json_text
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
class _AsyncpgReader:
    connection: PoolConnectionProxy[asyncpg.Record]
    dialect: Dialect

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        # asyncpg prepares each statement on the server once per connection (its cache).
        # A Record is a sequence of the row's values, as Prepared reads it.
        return cast(Sequence[Sequence[Any]], await self.connection.fetch(sql, *arguments))


# What asyncpg raises when the connection under a read is gone (the server restarted, or
# ended the backend, which says so first): the read is retried on another.
_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    OSError,
)


async def _keep(_connection: asyncpg.Connection) -> None:
    """What a connection needs back in the pool: nothing. asyncpg's default resets session
    state (a round trip per read), and point reads leave none: single SELECTs outside any
    transaction, no SET, LISTEN or advisory lock."""


async def _json_values(connection: asyncpg.Connection) -> None:
    """JSON and JSONB as Python values, as SQLAlchemy's asyncpg dialect sets up each of its
    connections (its JSON types then leave decoding to the driver, so a statement compiled for
    that dialect returns them as text otherwise); decoded as psycopg's sessions decode them."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, schema="pg_catalog", encoder=json_text, decoder=json.loads, format="text"
        )


class AsyncpgPointReads:
    """Point reads on a pool of asyncpg connections per event loop (a pool's connections
    belong to the loop that made them). Statements are compiled for SQLAlchemy's asyncpg
    dialect (``$n`` parameters, its bind and result processing); the engine's URL is the
    connection string, ``options`` (such as a search_path) included."""

    def __init__(self, engine: Engine, *, size: int, prepare: bool) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._dialect: Dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
        self._size = size
        # Behind a transaction-pooling PgBouncer nothing may be prepared on the server.
        self._statement_cache_size = 100 if prepare else 0
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task[asyncpg.Pool]] = {}

    async def _pool(self) -> asyncpg.Pool:
        loop = asyncio.get_running_loop()
        made = self._pools.get(loop)
        if made is None:
            # A task, so that reads arriving while the pool connects wait for the one pool.
            made = self._pools[loop] = loop.create_task(self._open())
        try:
            return await made
        except BaseException:
            # A pool that failed to open (the server down, or full) is tried again next time.
            if self._pools.get(loop) is made:
                del self._pools[loop]
            raise

    async def _open(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(
            self._dsn,
            min_size=1,
            max_size=self._size,
            server_settings={"application_name": APPLICATION_NAME},
            statement_cache_size=self._statement_cache_size,
            reset=_keep,
            init=_json_values,
        )

    async def run(self, read: PointRead[T]) -> T:
        """``read`` on a pooled connection. The pool does not check a connection before
        handing it out (a round trip per read); one found dead is closed and the read runs
        again on another, as many times as the pool may hold connections (a database
        restart leaves every one of them dead)."""
        pool = await self._pool()
        attempts = self._size + 1
        for attempt in range(attempts):
            async with pool.acquire() as connection:
                try:
                    return await read(_AsyncpgReader(connection, self._dialect))
                except _LOST:
                    if attempt + 1 == attempts:
                        raise
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Close this loop's pool (its connections cannot be closed from another loop)."""
        made = self._pools.pop(asyncio.get_running_loop(), None)
        if made is None or (made.done() and made.exception() is not None):
            return  # none opened
        await (await made).close()
