"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session


def contains_ci(columns: list[Any], needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over any of ``columns``, with LIKE wildcards escaped."""
    escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def count(session: Session, stmt: Select[Any]) -> int:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return int(total or 0)
