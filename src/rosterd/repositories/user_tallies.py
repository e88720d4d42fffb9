"""Totals read from ``user_tallies`` (kept by triggers, see migrations 0006 and 0023) instead
of counted: a tally is the sum of its rows, one per slot."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Connection, bindparam, func, select, text
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


# The slots of committed transactions gathered into slot 0, per tenant and status. A slot
# a transaction still writes is locked, so skipped (SKIP LOCKED): the fold never waits for
# a writer, and a writer that finds its slot folded away starts it again. Slot 0 rows are
# written in key order, so two folds at once queue rather than deadlock.
_FOLD = text(
    """
    WITH claimed AS (
        SELECT ctid FROM user_tallies WHERE slot <> 0 FOR UPDATE SKIP LOCKED
    ), gone AS (
        DELETE FROM user_tallies AS t USING claimed AS c WHERE t.ctid = c.ctid
        RETURNING t.tenant_id, t.status, t.users
    )
    INSERT INTO user_tallies (tenant_id, status, slot, users)
        SELECT tenant_id, status, 0, sum(users) FROM gone
        GROUP BY tenant_id, status ORDER BY tenant_id, status
    ON CONFLICT (tenant_id, status, slot)
        DO UPDATE SET users = user_tallies.users + excluded.users
    """
)


def fold(session: Session) -> int:
    """Gather the tallies' slots into one row per tenant and status (PostgreSQL, where each
    backend writes a slot of its own; on SQLite every tally is one row already). Returns
    how many tallies it changed."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    return int(session.execute(_FOLD).rowcount)  # type: ignore[attr-defined]
