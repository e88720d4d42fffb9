from __future__ import annotations

import uuid

from sqlalchemy import func, literal, select, tuple_
from sqlalchemy.orm import Session

from rosterd.models import Role, User
from rosterd.repositories._sql import count


def get(
    session: Session, tenant_id: uuid.UUID, role_id: uuid.UUID, *, for_update: bool = False
) -> Role | None:
    """The role; ``for_update`` locks its row (read fresh) until the transaction ends."""
    stmt = select(Role).where(Role.tenant_id == tenant_id, Role.id == role_id)
    if for_update:
        stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.scalar(stmt)


def find_by_name(session: Session, tenant_id: uuid.UUID, name: str) -> Role | None:
    return session.scalar(
        select(Role).where(Role.tenant_id == tenant_id, func.lower(Role.name) == func.lower(name))
    )


def search(
    session: Session, tenant_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[Role], int]:
    stmt = select(Role).where(Role.tenant_id == tenant_id)
    total = count(session, stmt)
    rows = session.scalars(
        stmt.order_by(func.lower(Role.name), Role.id).offset(offset).limit(limit)
    )
    return list(rows), total


def page_after(
    session: Session, tenant_id: uuid.UUID, *, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[Role]:
    """A keyset page in ``search``'s order (name, case-insensitively, then id): the roles
    after the one of this (name, id), however many come before it."""
    stmt = select(Role).where(Role.tenant_id == tenant_id)
    if after is not None:
        name, last_id = after
        stmt = stmt.where(
            tuple_(func.lower(Role.name), Role.id) > tuple_(func.lower(literal(name)), last_id)
        )
    return list(session.scalars(stmt.order_by(func.lower(Role.name), Role.id).limit(limit)))


def user_counts(
    session: Session, tenant_id: uuid.UUID, role_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not role_ids:
        return {}
    rows = session.execute(
        select(User.role_id, func.count())
        .where(User.tenant_id == tenant_id, User.role_id.in_(role_ids))
        .group_by(User.role_id)
    )
    return {rid: int(n) for rid, n in rows if rid is not None}


def add(session: Session, role: Role) -> Role:
    session.add(role)
    session.flush()
    return role


def remove(session: Session, role: Role) -> None:
    session.delete(role)
    session.flush()
