"""Column length limits, enforced in the domain so every surface and both backends agree.

PostgreSQL refuses an over-long VARCHAR, SQLite stores it anyway; checking here gives the
same clear 400 on both, whichever API the value came through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import String

from rosterd.models.base import Base
from rosterd.services.errors import invalid_field


def check_lengths(model: type[Base], values: Mapping[str, Any]) -> None:
    columns = model.__table__.columns
    for name, value in values.items():
        if not isinstance(value, str) or name not in columns:
            continue
        column_type = columns[name].type
        limit = column_type.length if isinstance(column_type, String) else None
        if limit is not None and len(value) > limit:
            raise invalid_field(name, f"at most {limit} characters")
