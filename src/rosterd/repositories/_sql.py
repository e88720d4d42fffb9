"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import coercions, operators, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Grouping
from sqlalchemy.sql.visitors import InternalTraversal


def like_pattern(value: Any, *, head: str = "%", tail: str = "%") -> Any:
    """A LIKE pattern (escape character backslash) matching ``value`` literally.

    ``value`` may be a string or a SQL expression; escaping happens in SQL so that it
    composes with ``lower()`` on either side.
    """
    escaped = func.replace(func.replace(func.replace(value, "\\", "\\\\"), "%", "\\%"), "_", "\\_")
    return literal(head) + escaped + literal(tail)


class _LikeCi(ColumnElement[bool]):
    """``lower(expr) LIKE head || lower(needle) || tail``, the needle taken literally.

    SQLite is given the same test without lower(): its LIKE folds ASCII case and no other,
    as its lower() does, so the two spellings admit the same rows, and lower() made a string
    of every value tested (a search walking 2,000 users spent three quarters of its time in
    it). PostgreSQL keeps lower(expr): its LIKE is case-sensitive, and its trigram indexes
    are built on those expressions.

    Either spelling is built when the statement is compiled (once per shape, then cached):
    the element itself is the expression and two bound values, cheap to build and to copy.
    """

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("expr", InternalTraversal.dp_clauseelement),
        ("needle", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("head", InternalTraversal.dp_string),
        ("tail", InternalTraversal.dp_string),
    ]

    def __init__(self, expr: Any, needle: str, head: str, tail: str) -> None:
        # An ORM attribute becomes its column, as operators do: what a copy of the element
        # (ClauseAdapter, replacement_traverse) can see and replace.
        self.expr = coercions.expect(roles.ExpressionElementRole, expr)
        self.head, self.tail = head, tail
        self.needle = literal(needle)
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self.pattern = literal(head + escaped + tail)

    def self_group(self, against: Any = None) -> ColumnElement[bool]:
        # A LIKE needs no parentheses in AND/OR; anywhere else (NOT) it is given them.
        if against in (operators.and_, operators.or_):
            return self
        return Grouping(self)


@compiles(_LikeCi)
def _like_ci_folded(element: _LikeCi, compiler: SQLCompiler, **kw: Any) -> str:
    pattern = like_pattern(func.lower(element.needle), head=element.head, tail=element.tail)
    return compiler.process(func.lower(element.expr).like(pattern, escape="\\"), **kw)


@compiles(_LikeCi, "sqlite")
def _like_ci_plain(element: _LikeCi, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.expr.like(element.pattern, escape="\\"), **kw)


def like_ci(expr: Any, needle: str, *, head: str = "%", tail: str = "%") -> ColumnElement[bool]:
    """Case-insensitive LIKE of ``expr`` against ``head + needle + tail``, the needle matched
    literally (its LIKE wildcards escaped): on every backend as ``lower()`` on both sides."""
    return _LikeCi(expr, needle, head, tail)


def contains_ci(columns: list[Any], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over any of ``columns``, with LIKE wildcards escaped."""
    return or_(*(like_ci(c, needle) for c in columns))


def count(session: Session, stmt: Select[Any]) -> int:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)


def page_total(shown: int, offset: int, limit: int, counted: Callable[[], int]) -> int:
    """The total of a paged query, counted only when the page cannot tell it.

    A page with room left (and not an empty one past the end) holds the last of the results,
    so the total is ``offset + shown``: an equality filter or a selective search then costs
    one query instead of two.
    """
    if shown < limit and (shown > 0 or offset == 0):
        return offset + shown
    return counted()
