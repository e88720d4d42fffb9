"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class Database:
    """Session factories for one store.

    On SQLite a transaction that reads and then writes can fail with SQLITE_BUSY when another
    connection committed in between (WAL cannot upgrade a stale read snapshot). Writers
    therefore start with ``BEGIN IMMEDIATE`` and wait for the lock instead; readers use a
    plain deferred ``BEGIN``. SQLite admits one writer at a time, so the writer pool holds a
    single connection: writers in this process queue on the pool (woken as soon as it is
    free) rather than on SQLite's busy handler, which polls with sleeps of up to 100 ms and
    turned 16 concurrent writers into a few requests a second; the server's requests go
    through one writer thread holding it (``rosterd.db.work.GroupCommitWriter``). The busy
    timeout still arbitrates between processes.

    On PostgreSQL both factories share one engine, whose pool keeps ``pool_size``
    connections and never opens more (an overflow connection is closed when given back, so
    under load the pool forked a PostgreSQL backend every few requests). It does not ping a
    connection before handing it out (a round trip per request); a dead one fails its first
    statement, SQLAlchemy then invalidates it and the pool's older connections, and the
    request's runner retries the request once on a fresh connection. psycopg prepares a
    statement on the server once it has run ``prepare_threshold`` times on a connection.

    PostgreSQL also gets ``autonomous``, a small pool in autocommit for what must not wait
    for a request's transaction to end: a user number is taken there as a sequence's next
    value would be (rosterd.repositories.tenants), so concurrent creators in one tenant do
    not queue behind each other's transactions. Its sessions carry it in
    ``Session.info[AUTONOMOUS]``. Its commits do not wait for the WAL to reach the disk: a
    number is only ever stored in a user row, whose own commit, later in the WAL, flushes
    the number's with it; a crash before that loses only numbers no row holds.
    """

    url: str
    engine: Engine
    write_engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    autonomous: Engine | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
        if self.autonomous is not None:
            self.autonomous.dispose()


def json_text(value: Any) -> str:
    """A JSON column's value as stored: orjson's text (the standard library's encoder was
    two-fifths of an audit row's INSERT, whose before and after snapshots are JSON). What
    orjson does not take (an integer beyond 64 bits) goes to the standard library as
    before."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


# How long a SQLite statement waits for another connection's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_engine(url: str, begin: str, pool_size: int, max_overflow: int) -> Engine:
    engine = create_engine(
        url,
        json_serializer=json_text,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so BEGIN is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: a full SQLAlchemy execution here cost more than the
        # primary-key lookup that usually follows it.
        conn.connection.driver_connection.execute(begin)

    return engine


# Session.info key: the store's autocommit engine (PostgreSQL), see ``Database``.
AUTONOMOUS = "rosterd.db.autonomous"
# Connections of the autonomous pool: its statements are single-row and short.
AUTONOMOUS_POOL_SIZE = 2
# How long an autonomous statement waits for a row lock before the caller does the work
# in its own transaction instead (a transaction that itself holds the lock, say).
AUTONOMOUS_LOCK_TIMEOUT = "2s"


def _autonomous_engine(url: str, connect_args: dict[str, Any]) -> Engine:
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=AUTONOMOUS_POOL_SIZE,
        max_overflow=0,
        pool_timeout=30,
        connect_args=connect_args,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
            cur.execute(f"SET lock_timeout = '{AUTONOMOUS_LOCK_TIMEOUT}'")
        dbapi_conn.commit()  # should the settings have opened a transaction: keep them

    return engine


def make_database(url: str, pool_size: int = 10, prepare_threshold: int | None = 2) -> Database:
    if make_url(url).get_backend_name() == "sqlite":
        reader = _sqlite_engine(url, "BEGIN", pool_size, pool_size)
        writer = _sqlite_engine(url, "BEGIN IMMEDIATE", 1, 0)
        autonomous = None
    else:
        prepared = make_url(url).get_driver_name() == "psycopg"
        connect_args = {"prepare_threshold": prepare_threshold} if prepared else {}
        reader = writer = create_engine(
            url,
            json_serializer=json_text,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=30,
            connect_args=connect_args,
        )
        autonomous = _autonomous_engine(url, connect_args)
    info = {AUTONOMOUS: autonomous} if autonomous is not None else {}
    return Database(
        url=url,
        engine=reader,
        write_engine=writer,
        reader=sessionmaker(reader, expire_on_commit=False, info=info),
        writer=sessionmaker(writer, expire_on_commit=False, info=info),
        autonomous=autonomous,
    )
