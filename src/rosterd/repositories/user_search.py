"""Substring search over users, served by a trigram index on SQLite and on PostgreSQL.

The semantics are those of ``_sql.contains_ci``: ``lower(col) LIKE '%' || lower(x) || '%'``
with the needle's LIKE wildcards escaped. That condition stays in every query as written; an
index only narrows the rows it is evaluated on. Migration 0004 builds the indexes:

- PostgreSQL: a pg_trgm GIN index on each searched ``lower(<expression>)``. The planner
  serves the LIKE from it directly (a BitmapOr over several columns) and, having statistics,
  weighs it against walking the tenant; nothing is added to the query. That is also why
  ``FULL_NAME`` and ``ID_HEX`` spell their constants inline: a bound parameter in them would
  keep a generic plan from matching the index expressions.
- SQLite: a leading wildcard defeats every b-tree, so the contentless FTS5 table
  ``users_fts`` (trigram tokenizer, rowid = users.rowid) is consulted first:
  ``users.rowid IN (SELECT rowid FROM users_fts WHERE users_fts MATCH '{cols} : "x"'
  UNION ALL SELECT user_rowid FROM users_fts_pending)``. users_fts is brought up to date in
  the background (rosterd.repositories.search_queue): the rows changed since, which it holds
  with old values or not at all, are in users_fts_pending, a short list the search takes
  whole. The MATCH finds a superset of the other rows (the tokenizer folds case beyond ASCII,
  lower() does not) and the LIKE after it keeps the result exact, also dropping the pending
  rows that do not match and the users_fts matches on values a row no longer has. Without
  statistics SQLite would rather walk the tenant's index and probe that list row by row,
  linear in the tenant's size; ``where`` therefore tells it not to use the users indexes
  (``NOT INDEXED``) whenever every row the condition admits must be one the match found. A
  search then costs one rowid lookup per user matching in any tenant (and per pending row):
  for a small tenant in a store of many, a very common needle costs more than walking that
  tenant would have.

A needle that users_fts matches in many rows is the opposite case: fetching every match to
sort them costs a rowid lookup each (about a second for "rtin", 51,000 users of a million,
with SQLite's default page cache), while a walk of the tenant in the page's order, filtered,
finds a page of them within a few thousand rows. ``common`` tells the two apart from the
index alone (a count that stops at the threshold: a millisecond or two) and ``where`` with
``walk_if_common`` then leaves the index out, for pages in an order an index of users
delivers. PostgreSQL's planner makes that choice itself from its statistics. The count is
remembered per needle for ``COMMON_TTL`` seconds in each process (a person paging, or an
admin typing the same needle again, pays it once): it only chooses between two plans that
answer the same rows, so a needle that crosses the threshold meanwhile is still answered
exactly, by the other plan.

Needles shorter than 3 characters contain no trigram, so no trigram index can serve them:
they keep the plain LIKE, a scan of the tenant's users, on both backends.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from string import hexdigits
from typing import Any, Self, TypeVar

from cachetools import TTLCache
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BooleanClauseList, Grouping, UnaryExpression
from sqlalchemy.sql.visitors import InternalTraversal, replacement_traverse

from rosterd.models import User
from rosterd.repositories._sql import contains_ci

MIN_NEEDLE = 3
FTS_TABLE = "users_fts"
# The users rows users_fts does not hold as they are yet (rosterd.repositories.search_queue).
PENDING_TABLE = "users_fts_pending"
# More users_fts matches than this (in any tenant) make a needle common, see ``common``.
COMMON = 10_000
# How long a process remembers a needle's count of users_fts matches (up to COMMON + 1).
COMMON_TTL = 60.0

_EMPTY = literal_column("''", String)
FULL_NAME = func.trim(
    func.coalesce(User.first_name, _EMPTY)
    + literal_column("' '", String)
    + func.coalesce(User.last_name, _EMPTY)
)
ID_HEX = func.replace(func.cast(User.id, String), literal_column("'-'", String), _EMPTY)

# The searched expressions and their users_fts columns (migration 0004 builds the same).
_FTS_COLUMNS: tuple[tuple[Any, str], ...] = (
    (User.username, "username"),
    (User.email, "email"),
    (User.first_name, "first_name"),
    (User.last_name, "last_name"),
    (User.display_name, "display_name"),
    (User.phone, "phone"),
    (FULL_NAME, "full_name"),
    (ID_HEX, "id"),
)

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


class _FtsMatch(ColumnElement[bool]):
    """Rows of ``users`` that ``users_fts`` matches for ``query``, or that are not indexed
    as they are yet; TRUE off SQLite."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # an IN, not a boolean column: no "= 1" on SQLite
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, query: str) -> None:
        fts = table(FTS_TABLE, column("rowid"))
        pending = table(PENDING_TABLE, column("user_rowid"))
        self.query = query
        found = select(fts.c.rowid).where(
            literal_column(FTS_TABLE).op("MATCH")(bindparam(None, query, String))
        )
        self.element = literal_column("users.rowid").in_(
            union_all(found, select(pending.c.user_rowid))
        )

    def self_group(self, against: Any = None) -> Self:
        # An IN (or TRUE) needs no parentheses in AND/OR, nor a boolean wrapper.
        return self


@compiles(_FtsMatch)
def _fts_elsewhere(_element: _FtsMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(true(), **kw)


@compiles(_FtsMatch, "sqlite")
def _fts_on_sqlite(element: _FtsMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(Table, "sqlite")
def _table_with_hint(element: Table, compiler: SQLCompiler, **kw: Any) -> str:
    """A table, with the hint ``Select.with_hint(..., dialect_name="sqlite")`` gave it.

    SQLAlchemy's SQLite dialect drops table hints; SQLite's are ``INDEXED BY`` and
    ``NOT INDEXED`` after the table name in FROM. Tables without a hint render as before.
    """
    rendered: str = compiler.visit_table(element, **kw)  # type: ignore[no-untyped-call]
    hint = (kw.get("fromhints") or {}).get(element)
    return f"{rendered} {hint}" if hint and kw.get("asfrom") else rendered


def _fts_column(expr: Any) -> str | None:
    return next((name for indexed, name in _FTS_COLUMNS if indexed is expr), None)


def prefilter(terms: Sequence[tuple[Sequence[Any], str]]) -> ColumnElement[bool] | None:
    """The users_fts match admitting every row where some term's needle is in one of its columns.

    A term is (columns, needle). None when the index cannot help: a needle shorter than
    ``MIN_NEEDLE`` or a column users_fts does not index.
    """
    phrases = []
    for columns, needle in terms:
        names = [_fts_column(c) for c in columns]
        if len(needle) < MIN_NEEDLE or None in names:
            return None
        # An FTS5 string: taken literally once its double quotes are doubled.
        phrase = '"' + needle.replace('"', '""') + '"'
        phrases.append("{" + " ".join(map(str, names)) + "} : " + phrase)
    return _FtsMatch(" OR ".join(phrases)) if phrases else None


def _can_hold(columns: Sequence[Any], needle: str) -> list[Any]:
    """``columns`` without those whose match on ``needle`` another of them already makes:
    ``ID_HEX`` is hex digits only, so it holds no needle with another character; and a
    needle without a space is in ``FULL_NAME`` (first and last name around one space) only
    where it is in the first or the last name. Fewer columns, the same rows: those two
    were a third of the expressions a search evaluated on each row."""
    if not needle:
        return list(columns)
    names = {id(User.first_name), id(User.last_name)} <= {id(c) for c in columns}
    kept = []
    for searched in columns:
        if searched is ID_HEX and not all(c in hexdigits for c in needle):
            continue
        if searched is FULL_NAME and " " not in needle and names:
            continue
        kept.append(searched)
    return kept


def matches(*terms: tuple[Sequence[Any], str]) -> ColumnElement[bool]:
    """Case-insensitive substring match: some term's needle is in one of its columns."""
    held = [(kept, needle) for columns, needle in terms if (kept := _can_hold(columns, needle))]
    if not held:
        return false()
    terms = tuple(held)
    exact = or_(*(contains_ci(list(columns), needle) for columns, needle in terms))
    narrowed = prefilter(terms)
    return exact if narrowed is None else and_(narrowed, exact)


def _drives(condition: Any) -> bool:
    """Whether every row ``condition`` admits must be one users_fts matched."""
    if isinstance(condition, _FtsMatch):
        return True
    if isinstance(condition, Grouping):
        return _drives(condition.element)
    if isinstance(condition, BooleanClauseList):
        if condition.operator is operators.and_:
            return any(_drives(c) for c in condition.clauses)
        if condition.operator is operators.or_:
            return all(_drives(c) for c in condition.clauses)
    return False


_FTS_QUERY = bindparam("fts_query", type_=String)
_FTS_CAP = bindparam("fts_cap", type_=Integer)
# How many rows of any tenant users_fts matches for a query, up to a cap: built once.
_CAPPED_MATCHES = select(func.count()).select_from(
    select(table(FTS_TABLE, column("rowid")).c.rowid)
    .where(literal_column(FTS_TABLE).op("MATCH")(_FTS_QUERY))
    .limit(_FTS_CAP)
    .subquery()
)
# (users_fts query, COMMON) -> its matches, up to COMMON + 1; see the module's docstring.
_match_counts: TTLCache[tuple[str, int], int] = TTLCache(maxsize=4096, ttl=COMMON_TTL)
_match_counts_lock = threading.Lock()


def common(session: Session, condition: ColumnElement[bool]) -> bool:
    """Whether every users_fts match in ``condition`` finds more than ``COMMON`` rows, of
    any tenant: read off the index until then, no users row fetched, and remembered for
    ``COMMON_TTL``. False without one (and so off SQLite, where ``matches`` adds none)."""
    if session.get_bind().dialect.name != "sqlite":
        return False
    found = _fts_matches(condition)
    return bool(found) and all(_match_count(session, m.query) > COMMON for m in found)


def _match_count(session: Session, query: str) -> int:
    key = (query, COMMON)
    with _match_counts_lock:
        remembered = _match_counts.get(key)
    if remembered is not None:
        return remembered
    counted = session.scalar(_CAPPED_MATCHES, {"fts_query": query, "fts_cap": COMMON + 1}) or 0
    with _match_counts_lock:
        _match_counts[key] = counted
    return counted


def _fts_matches(condition: Any) -> list[_FtsMatch]:
    """The users_fts matches among ``condition``'s ANDs, ORs, NOTs and parentheses, where
    ``matches`` and the SCIM filters put them: not a walk of every element (each LIKE's
    functions and binds), which cost more than the capped count that follows."""
    if isinstance(condition, _FtsMatch):
        return [condition]
    if isinstance(condition, BooleanClauseList):
        return [m for clause in condition.clauses for m in _fts_matches(clause)]
    if isinstance(condition, Grouping | UnaryExpression):
        return _fts_matches(condition.element)
    return []


def _without_index(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition`` with its users_fts matches made TRUE: the exact conditions alone."""

    def drop(element: Any, **_: Any) -> Any:
        return true() if isinstance(element, _FtsMatch) else None

    return replacement_traverse(condition, {}, drop)


def where(stmt: S, condition: ColumnElement[bool], *, walk_if_common: Session | None = None) -> S:
    """``stmt.where(condition)`` on a select from users; on SQLite, users_fts leads if it can.

    ``walk_if_common``: for a page in an order an index of users delivers (creation order),
    whose reader stops at its LIMIT: when the needle is ``common``, leave users_fts out and
    let the walk of that index, filtered, find the page.
    """
    if walk_if_common is not None and common(walk_if_common, condition):
        return stmt.where(_without_index(condition))
    stmt = stmt.where(condition)
    if _drives(condition):
        stmt = stmt.with_hint(User.__table__, "NOT INDEXED", dialect_name="sqlite")
    return stmt
