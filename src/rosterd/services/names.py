"""The name every group, role and team has: given, text, not blank, unique in the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from rosterd.domain import rules
from rosterd.models.base import Base
from rosterd.services.errors import Conflict, FieldError, invalid_field


def checked_name(
    model: type[Base],
    value: str | None,
    find: Callable[[str], Any],
    exclude: uuid.UUID | None = None,
) -> str:
    """``value`` as the name of a ``model`` row; ``find`` looks a name up in the tenant (case
    insensitively), and the row ``exclude`` may keep its own."""
    if value is None:
        raise invalid_field("name", "must not be null")
    rules.text(value, "name", rules.column_limit(model, "name"))
    if not value.strip():
        raise invalid_field("name", "must not be blank")
    other = find(value)
    if other is not None and other.id != exclude:
        kind = str(model.__tablename__).removesuffix("s")
        raise Conflict(f"a {kind} named {value!r} already exists", [FieldError("name", "taken")])
    return value
