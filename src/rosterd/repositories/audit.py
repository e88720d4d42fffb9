"""The audit trail: written on every mutation, read by the audit API and the event feed."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from rosterd.db.prepared import PreparedWrite
from rosterd.models import AuditEvent
from rosterd.models.base import utcnow

# Every write path adds one: prepared once (SQLAlchemy's execution of the same INSERT cost
# three times sqlite3's work). The columns are the same each time, so it compiles once.
_INSERT = PreparedWrite(insert(cast(Table, AuditEvent.__table__)))
_COLUMNS = (
    "tenant_id",
    "occurred_at",
    "actor",
    "surface",
    "action",
    "resource_type",
    "resource_id",
    "before",
    "after",
    "request_id",
)


def add(session: Session, values: dict[str, Any]) -> None:
    """Write one audit row now, as a plain INSERT: nothing reads the event back, so it needs
    no entity or unit of work (which cost as much as the user's own row). PostgreSQL fills
    ``tx`` itself (the column's default); ``occurred_at`` is now unless given."""
    _INSERT.run(session, {"occurred_at": utcnow(), **values}, columns=_COLUMNS)


def for_resource(
    session: Session, tenant_id: uuid.UUID, resource_type: str, resource_id: str
) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.tenant_id == tenant_id,
                AuditEvent.resource_type == resource_type,
                AuditEvent.resource_id == resource_id,
            )
            .order_by(AuditEvent.id)
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    """What the audit API narrows a tenant's events to; None is no condition."""

    resource_type: str | None = None
    resource_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def newest_first(
    session: Session,
    tenant_id: uuid.UUID,
    where: AuditFilter,
    *,
    before_id: int | None,
    limit: int,
) -> list[AuditEvent]:
    """A keyset page of the tenant's events matching ``where``, newest first, with ids below
    ``before_id``. Indexed by (tenant, id), (tenant, resource type, resource id, id) and
    (tenant, actor, id): a resource's or an actor's history reads only its own rows."""
    conditions: list[ColumnElement[bool]] = [AuditEvent.tenant_id == tenant_id]
    for column, value in (
        (AuditEvent.resource_type, where.resource_type),
        (AuditEvent.resource_id, where.resource_id),
        (AuditEvent.actor, where.actor),
        (AuditEvent.action, where.action),
    ):
        if value is not None:
            conditions.append(column == value)
    if where.since is not None:
        conditions.append(AuditEvent.occurred_at >= where.since)
    if where.until is not None:
        conditions.append(AuditEvent.occurred_at < where.until)
    if before_id is not None:
        conditions.append(AuditEvent.id < before_id)
    query = select(AuditEvent).where(*conditions).order_by(AuditEvent.id.desc()).limit(limit)
    return list(session.scalars(query))


def feed_after(
    session: Session,
    tenant_id: uuid.UUID,
    after: tuple[int, int],
    *,
    actions: Collection[str] | None,
    limit: int,
) -> list[AuditEvent]:
    """The tenant's events past ``after`` in commit order, as far as it is settled.

    PostgreSQL: by (tx, id), only events of transactions below the statement snapshot's
    xmin, all of which have ended (rosterd.events.feed says why). SQLite: by id, which its
    one writer hands out in commit order. ``after`` is a (tx, id) pair; tx is 0 on SQLite.
    """
    query: Select[AuditEvent] = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if actions is not None:
        query = query.where(AuditEvent.action.in_(sorted(actions)))
    if session.get_bind().dialect.name == "postgresql":
        settled = func.txid_snapshot_xmin(func.txid_current_snapshot())
        query = query.where(
            AuditEvent.tx < settled, tuple_(AuditEvent.tx, AuditEvent.id) > tuple_(*after)
        ).order_by(AuditEvent.tx, AuditEvent.id)
    else:
        query = query.where(AuditEvent.id > after[1]).order_by(AuditEvent.id)
    return list(session.scalars(query.limit(limit)))


def delete_older_than(session: Session, tenant_id: uuid.UUID, cutoff: datetime, batch: int) -> int:
    """Delete at most ``batch`` of the tenant's events from before ``cutoff``; how many went.

    Bounded, so no statement holds locks (or SQLite's one writer) for long however much is
    due; on PostgreSQL rows another node is deleting are skipped, not waited for.
    """
    due = (
        select(AuditEvent.id)
        .where(AuditEvent.tenant_id == tenant_id, AuditEvent.occurred_at < cutoff)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        delete(AuditEvent).where(AuditEvent.id.in_(due.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def feed_end(session: Session, tenant_id: uuid.UUID) -> tuple[int, int]:
    """The (tx, id) of the tenant's last settled event (``feed_after``'s order), (0, 0) when
    there is none: a cursor from which only events settled later are read."""
    if session.get_bind().dialect.name == "postgresql":
        settled = func.txid_snapshot_xmin(func.txid_current_snapshot())
        row = session.execute(
            select(AuditEvent.tx, AuditEvent.id)
            .where(AuditEvent.tenant_id == tenant_id, AuditEvent.tx < settled)
            .order_by(AuditEvent.tx.desc(), AuditEvent.id.desc())
            .limit(1)
        ).first()
        return (0, 0) if row is None else (int(row[0] or 0), int(row[1]))
    last = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.tenant_id == tenant_id))
    return (0, int(last or 0))
