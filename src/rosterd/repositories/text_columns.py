"""Columns selected as the text they are sent as, for rows that go straight to a wire.

A list page of 100 users spent more CPU turning the driver's values into ``uuid.UUID`` and
``datetime`` objects and back into strings than the database spent finding them (about
15 µs a row of 3 ids and 3 times). These constructs have the database hand over text
instead, in one form on both databases, so a surface only slices it:

- ``uuid_text``: the id as RFC 4122 text (``8-4-4-4-12``, lowercase hex). SQLite stores a
  UUID as its 32 hex digits; PostgreSQL has a ``uuid`` type.
- ``utc_text``: a UTC time as ``YYYY-MM-DD HH:MM:SS.ffffff``. SQLite stores exactly that
  (every write goes through ``UTCDateTime``, which binds naive UTC, and SQLAlchemy's SQLite
  DATETIME always writes six fractional digits); PostgreSQL formats its ``timestamptz``.
- ``plain_text``: a column whose type would convert the value (an Enum) as the stored text.

NULL stays NULL on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class uuid_text(FunctionElement[str]):  # noqa: N801 (an SQL function, named like one)
    type = String()
    inherit_cache = True


class utc_text(FunctionElement[str]):  # noqa: N801
    type = String()
    inherit_cache = True


def plain_text(column: ColumnElement[Any]) -> ColumnElement[str]:
    return type_coerce(column, String())


def utc_of_text(value: str) -> datetime:
    """The time a ``utc_text`` column gave, as a datetime (UTC)."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _only(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (argument,) = element.clauses
    return compiler.process(argument, **kw)


@compiles(uuid_text, "sqlite")
def _uuid_sqlite(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    hex_ = _only(element, compiler, **kw)
    # (|| with a NULL is NULL, as wanted; concat_ws is newer than the SQLite Python ships.)
    parts = " || '-' || ".join(
        f"substr({hex_}, {start}, {length})"
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    )
    return f"({parts})"


@compiles(uuid_text, "postgresql")
def _uuid_postgresql(element: uuid_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_only(element, compiler, **kw)} AS TEXT)"


@compiles(utc_text, "sqlite")
def _utc_sqlite(element: utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    return _only(element, compiler, **kw)


@compiles(utc_text, "postgresql")
def _utc_postgresql(element: utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    value = _only(element, compiler, **kw)
    return f"to_char({value} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
