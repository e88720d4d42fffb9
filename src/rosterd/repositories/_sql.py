"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, or_, select
from sqlalchemy.orm import Session


def like_pattern(value: Any, *, head: str = "%", tail: str = "%") -> Any:
    """A LIKE pattern (escape character backslash) matching ``value`` literally.

    ``value`` may be a string or a SQL expression; escaping happens in SQL so that it
    composes with ``lower()`` on either side.
    """
    escaped = func.replace(func.replace(func.replace(value, "\\", "\\\\"), "%", "\\%"), "_", "\\_")
    return literal(head) + escaped + literal(tail)


def contains_ci(columns: list[Any], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over any of ``columns``, with LIKE wildcards escaped."""
    pattern = like_pattern(func.lower(literal(needle)))
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


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
