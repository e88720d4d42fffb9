"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

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
