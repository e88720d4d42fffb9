"""A tenant's groups read a chunk at a time, for lists of any length."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from rosterd.models import Group


def chunk_by_name(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    after: tuple[str, uuid.UUID] | None,
    offset: int,
    size: int,
) -> list[Group]:
    """Up to ``size`` of the tenant's groups in the order of the group lists (case-insensitive
    name, then id): past ``offset`` groups, or after the (name, id) of the last group of the
    previous chunk. The name is lower-cased by the database on both sides of the comparison,
    so the keyset agrees with the ORDER BY whatever the backend's idea of lower case is."""
    stmt = select(Group).where(Group.tenant_id == tenant_id)
    if after is not None:
        name, last_id = after
        key, last = func.lower(Group.name), func.lower(name)
        stmt = stmt.where(or_(key > last, and_(key == last, Group.id > last_id)))
    stmt = stmt.order_by(func.lower(Group.name), Group.id).offset(offset).limit(size)
    return list(session.scalars(stmt))
