"""Core statements compiled once and run straight on the driver's connection.

For the hottest reads (a user by id) SQLAlchemy's execution of an already compiled
statement cost eight times what the database did: a Core ``execute`` on an open connection
took 44 µs of CPU, the same SELECT through sqlite3 5 µs. ``Prepared`` keeps what makes the
Core statement worth writing (the SQL is built from the models, once per dialect, with the
bind and result processing of its column types, so a UUID or a timestamp comes back as it
would from SQLAlchemy on either database) and drops the rest of the machinery from the
path: per execution it is one dictionary merge, the type processors, and the DBAPI call.

Only plain SELECTs whose parameters are ``bindparam``\\ s (or constants) belong here; the
driver prepares the statement itself (sqlite3 keeps a statement cache; asyncpg prepares it
on the server on first use, psycopg after ``prepare_threshold`` runs).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Delete, Dialect, Insert, Select, Update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler

_Processor = Callable[[Any], Any]


class PointReader(Protocol):
    """A connection for point reads, in autocommit: sqlite3's on the event loop, or an
    asyncpg one (rosterd.db.point_reads)."""

    @property
    def dialect(self) -> Dialect: ...

    async def fetch(self, sql: str, arguments: Any) -> Sequence[Sequence[Any]]:
        """Every row ``sql`` selects with ``arguments``, as the driver gives them."""


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Every bind's value when the caller gives none (constants of the statement).
    defaults: Mapping[str, Any]
    # The binds in the order the SQL takes them; None for named (pyformat) parameters.
    order: Sequence[str] | None
    bind_processors: Mapping[str, _Processor]
    # (column index, processor) for the columns whose type converts the driver's value.
    result_processors: Sequence[tuple[int, _Processor]]
    row: Callable[..., Any]


class Prepared:
    """A SELECT compiled once per dialect, run on a ``PointReader``."""

    def __init__(self, statement: Select[*tuple[Any, ...]], name: str = "Row") -> None:
        self._statement = statement
        self._name = name
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        # By driver too: PostgreSQL's point reads use asyncpg, its sessions psycopg.
        key = f"{dialect.name}+{dialect.driver}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        return _compiled(self._statement.compile(dialect=dialect), dialect, self._name)

    async def all(self, db: PointReader, params: Mapping[str, Any]) -> list[Any]:
        """The rows the statement selects with ``params``, as named tuples."""
        compiled = self._for(db.dialect)
        return _rows(compiled, await db.fetch(compiled.sql, _arguments(compiled, params)))

    def sql_for(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and driver arguments run for ``params`` (to EXPLAIN it)."""
        compiled = self._for(dialect)
        return compiled.sql, _arguments(compiled, params)

    def all_in(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """``all`` on a Session's connection, in its transaction (for reads that belong on a
        worker thread: a page, whose offset can make it long; a row to lock)."""
        compiled = self._for(connection.dialect)
        return _execute(connection, compiled, _arguments(compiled, params), fetch=True)[1]

    async def first(self, db: PointReader, params: Mapping[str, Any]) -> Any | None:
        rows = await self.all(db, params)
        return rows[0] if rows else None


def _compiled(compiled: SQLCompiler, dialect: Dialect, name: str) -> _Compiled:
    columns = compiled._result_columns
    processors = [column.type._cached_result_processor(dialect, None) for column in columns]
    return _Compiled(
        sql=compiled.string,
        defaults=compiled.construct_params(_check=False),
        order=list(compiled.positiontup or ()) if compiled.positional else None,
        # (A tuple of processors is for an expanding IN, which has no place here.)
        bind_processors={
            key: processor
            for key, processor in compiled._bind_processors.items()
            if callable(processor)
        },
        result_processors=[(i, p) for i, p in enumerate(processors) if p is not None],
        row=namedtuple(name, [str(c.keyname) for c in columns], rename=True),
    )


class PreparedWrite:
    """An INSERT, UPDATE or DELETE compiled once per dialect (and per set of columns it
    sets), run on a Session's connection in its transaction.

    A write path's statements went through SQLAlchemy's execution each time: a third of the
    writer thread's CPU on a lifecycle was that machinery (the compiled cache's lookup,
    building the parameters, the execution context and its events), against a few per cent
    for sqlite3 itself. Here a call is the bind processors of its column types and the
    DBAPI call. The statement must not rely on Python-side column defaults (the caller gives
    every value; ``_compile`` refuses otherwise), and nothing is returned but the rowcount.
    """

    def __init__(self, statement: Insert | Update | Delete) -> None:
        self._statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}

    def _for(self, dialect: Dialect, columns: tuple[str, ...] | None) -> _Compiled:
        key = (f"{dialect.name}+{dialect.driver}", columns)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect, columns)
        return compiled

    def _compile(self, dialect: Dialect, columns: tuple[str, ...] | None) -> _Compiled:
        compiled = self._statement.compile(
            dialect=dialect, column_keys=list(columns) if columns is not None else None
        )
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise TypeError("a prepared write is given every value: no Python-side defaults")
        return _compiled(compiled, dialect, "Returned")

    def driver_call(
        self, dialect: Dialect, params: Mapping[str, Any], *, columns: Sequence[str] = ()
    ) -> tuple[str, Any]:
        """The SQL and the driver's arguments ``run`` would execute on ``dialect``'s driver
        (for bench.write_floor, which times the driver alone)."""
        compiled = self._for(dialect, tuple(columns) if columns else None)
        return compiled.sql, _arguments(compiled, params)

    def run(
        self, session: Session, params: Mapping[str, Any], *, columns: Sequence[str] = ()
    ) -> int:
        """Run the statement in ``session``'s transaction (pending ORM changes flushed
        first, as ``Session.execute`` would); how many rows it wrote. ``columns``: the
        columns an UPDATE sets or an INSERT gives, when not all of them (each set compiled
        once)."""
        return self._execute(session, params, columns, fetch=False)[0]

    def returned(
        self, session: Session, params: Mapping[str, Any], *, columns: Sequence[str] = ()
    ) -> list[Any]:
        """``run`` for a statement with RETURNING: the rows it returned, as named tuples."""
        return self._execute(session, params, columns, fetch=True)[1]

    def run_on(self, connection: Connection, params: Mapping[str, Any]) -> int:
        """``run`` on ``connection``, outside any Session (one in autocommit, say)."""
        return self._execute_on(connection, params, (), fetch=False)[0]

    def returned_on(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """``returned`` on ``connection``, outside any Session."""
        return self._execute_on(connection, params, (), fetch=True)[1]

    def _execute(
        self, session: Session, params: Mapping[str, Any], columns: Sequence[str], *, fetch: bool
    ) -> tuple[int, list[Any]]:
        if session.autoflush:
            session.flush()
        return self._execute_on(session.connection(), params, columns, fetch=fetch)

    def _execute_on(
        self,
        connection: Connection,
        params: Mapping[str, Any],
        columns: Sequence[str],
        *,
        fetch: bool,
    ) -> tuple[int, list[Any]]:
        compiled = self._for(connection.dialect, tuple(columns) if columns else None)
        return _execute(connection, compiled, _arguments(compiled, params), fetch=fetch)


def _execute(
    connection: Connection, compiled: _Compiled, arguments: Any, *, fetch: bool
) -> tuple[int, list[Any]]:
    """Run ``compiled`` on the driver's cursor of ``connection``: the rowcount and, if
    ``fetch``, the rows. Driver errors are raised as SQLAlchemy's execution raises them:
    wrapped (an IntegrityError the unique indexes' callers turn into a Conflict, an
    OperationalError the retries know), a dead connection invalidated."""
    dialect = connection.dialect
    cursor = connection.connection.cursor()
    try:
        cursor.execute(compiled.sql, arguments)
        rows = _rows(compiled, cursor.fetchall()) if fetch else []
        return int(cursor.rowcount), rows
    except dialect.loaded_dbapi.Error as exc:
        dead = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
        if dead and not connection.invalidated:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            compiled.sql,
            arguments,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=dead,
            dialect=dialect,
        ) from exc
    finally:
        cursor.close()


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    values = {**compiled.defaults, **params}
    for name, process in compiled.bind_processors.items():
        values[name] = process(values[name])
    return values if compiled.order is None else tuple(values[name] for name in compiled.order)


def _rows(compiled: _Compiled, fetched: Sequence[Sequence[Any]]) -> list[Any]:
    rows = []
    for values in fetched:
        row = list(values)
        for index, process in compiled.result_processors:
            row[index] = process(row[index])
        rows.append(compiled.row(*row))
    return rows
