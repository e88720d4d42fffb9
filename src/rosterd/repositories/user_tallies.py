"""Totals read from ``user_tallies`` (kept by triggers, see migration 0006) instead of counted."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from rosterd.db.prepared import Prepared
from rosterd.models import UserStatus, UserTally


def total(session: Session, tenant_id: uuid.UUID, statuses: Collection[UserStatus]) -> int:
    """How many of the tenant's users are in one of ``statuses``: one to four small rows."""
    stmt = select(func.coalesce(func.sum(UserTally.users), 0)).where(
        UserTally.tenant_id == tenant_id, UserTally.status.in_(statuses)
    )
    return int(session.scalar(stmt) or 0)


def store_total(session: Session) -> int:
    """How many users the store has, in every tenant and status."""
    return int(session.scalar(select(func.coalesce(func.sum(UserTally.users), 0))) or 0)


_ALL = Prepared(
    select(func.coalesce(func.sum(UserTally.users), 0)).where(
        UserTally.tenant_id == bindparam("tenant_id")
    )
)
_OF_STATUS = Prepared(
    select(func.coalesce(func.sum(UserTally.users), 0)).where(
        UserTally.tenant_id == bindparam("tenant_id"),
        UserTally.status == bindparam("one_status"),
    )
)


def total_of(connection: Connection, tenant_id: uuid.UUID, status: UserStatus | None) -> int:
    """``total`` of one status, or of all when None, through statements prepared once: the
    total of the plain list page, the commonest request."""
    if status is None:
        rows = _ALL.all_in(connection, {"tenant_id": tenant_id})
    else:
        rows = _OF_STATUS.all_in(connection, {"tenant_id": tenant_id, "one_status": status})
    return int(rows[0][0])
