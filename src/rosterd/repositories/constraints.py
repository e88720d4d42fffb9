"""Which unique index a refused write ran into, on either database."""

from __future__ import annotations

import re

from sqlalchemy import Column, Index
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import visitors

from rosterd.models import Base

# SQLite names the index only for expression indexes; otherwise it lists the columns.
_SQLITE_INDEX = re.compile(r"UNIQUE constraint failed: index '([^']+)'")
_SQLITE_COLUMNS = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")
_PG_UNIQUE_VIOLATION = "23505"


def _unique_indexes() -> dict[str, tuple[str, list[str]]]:
    """Every unique index and constraint of the models: name → (table, column names)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            if index.unique and index.name:
                found[str(index.name)] = (table.name, _columns(index))
        for constraint in table.constraints:
            columns = [c.name for c in getattr(constraint, "columns", [])]
            if (
                constraint.name
                and columns
                and constraint.__visit_name__
                in (
                    "unique_constraint",
                    "primary_key_constraint",
                )
            ):
                found[str(constraint.name)] = (table.name, columns)
    return found


def _columns(index: Index) -> list[str]:
    names: list[str] = []
    for expression in index.expressions:
        if isinstance(expression, str):
            names.append(expression)
        else:
            names += [c.name for c in visitors.iterate(expression) if isinstance(c, Column)]
    return names


_UNIQUE = _unique_indexes()


def violated_unique(exc: IntegrityError) -> tuple[str, list[str]] | None:
    """The table and columns of the unique index ``exc`` reports, or None when ``exc`` is
    not a unique violation (a NOT NULL or foreign key one is a bug, not a conflict)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        name = getattr(getattr(orig, "diag", None), "constraint_name", None)
        return _UNIQUE.get(name) if name else None
    message = str(orig)
    if match := _SQLITE_INDEX.search(message):
        return _UNIQUE.get(match.group(1))
    if match := _SQLITE_COLUMNS.search(message):
        qualified = [part.split(".") for part in match.group(1).split(", ")]
        return qualified[0][0], [column for _, column in qualified]
    return None
