from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from rosterd.models import AdminUser


def find_by_username(
    session: Session, username: str, *, for_update: bool = False
) -> AdminUser | None:
    """Across tenants: admin usernames are unique server-wide (the login names no tenant).

    ``for_update`` locks the row until the transaction ends (PostgreSQL; SQLite writers hold
    the database lock already), so concurrent read-modify-writes do not lose updates.
    """
    stmt = select(AdminUser).where(func.lower(AdminUser.username) == func.lower(username))
    return session.scalar(stmt.with_for_update() if for_update else stmt)


def get(session: Session, admin_id: uuid.UUID, *, for_update: bool = False) -> AdminUser | None:
    return session.get(AdminUser, admin_id, with_for_update=for_update)


def named_in_tenant(
    session: Session, tenant_id: uuid.UUID, names: Collection[str]
) -> list[AdminUser]:
    """The tenant's admins whose username is one of ``names`` (case-insensitively), locked
    (see ``find_by_username``)."""
    if not names:
        return []
    # lower() on both sides, as the login compares them (SQLite's folds ASCII only).
    named = or_(*(func.lower(AdminUser.username) == func.lower(name) for name in set(names)))
    return list(
        session.scalars(
            select(AdminUser)
            .where(AdminUser.tenant_id == tenant_id, named)
            .order_by(AdminUser.id)
            .with_for_update()
        )
    )


def list_for_tenant(session: Session, tenant_id: uuid.UUID) -> list[AdminUser]:
    return list(
        session.scalars(
            select(AdminUser).where(AdminUser.tenant_id == tenant_id).order_by(AdminUser.username)
        )
    )


def add(session: Session, admin: AdminUser) -> AdminUser:
    session.add(admin)
    session.flush()
    return admin


def delete(session: Session, admin: AdminUser) -> None:
    session.delete(admin)
    session.flush()
