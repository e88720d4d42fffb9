from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rosterd.models import AdminUser


def find_by_username(session: Session, username: str) -> AdminUser | None:
    """Across tenants: admin usernames are unique server-wide (the login names no tenant)."""
    return session.scalar(
        select(AdminUser).where(func.lower(AdminUser.username) == func.lower(username))
    )


def get(session: Session, admin_id: uuid.UUID) -> AdminUser | None:
    return session.get(AdminUser, admin_id)


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
