"""Webhooks and their deliveries: all their SQL.

The API's reads and writes are tenant-scoped. The deliverer's claim of what is due reads
across tenants (as the scheduler's expiry does), locking the rows it takes and skipping
those another node holds (PostgreSQL; SQLite has one writer at a time).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Select, Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from rosterd.models import Tenant, Webhook, WebhookDelivery

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (PENDING, SUCCEEDED, FAILED)


def _locking(session: Session, stmt: Select[Webhook]) -> Select[Webhook]:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def get(
    session: Session, tenant_id: uuid.UUID, webhook_id: uuid.UUID, *, for_update: bool = False
) -> Webhook | None:
    stmt: Select[Webhook] = select(Webhook).where(
        Webhook.tenant_id == tenant_id, Webhook.id == webhook_id
    )
    if for_update:
        stmt = _locking(session, stmt)
    return session.scalars(stmt).first()


def list_for_tenant(session: Session, tenant_id: uuid.UUID, limit: int) -> list[Webhook]:
    stmt = (
        select(Webhook)
        .where(Webhook.tenant_id == tenant_id)
        .order_by(Webhook.created_at, Webhook.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_for_tenant(session: Session, tenant_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(Webhook).where(Webhook.tenant_id == tenant_id)
    return int(session.scalar(stmt) or 0)


def enabled_positions(session: Session) -> list[tuple[uuid.UUID, uuid.UUID, tuple[int, int]]]:
    """Every enabled webhook, across tenants, with its tenant and feed cursor (tx, id):
    those whose feed the deliverer reads."""
    stmt = (
        select(Webhook.id, Webhook.tenant_id, Webhook.cursor_tx, Webhook.cursor_id)
        .where(Webhook.enabled.is_(True))
        .order_by(Webhook.id)
    )
    return [(row[0], row[1], (row[2], row[3])) for row in session.execute(stmt)]


def lock_enabled(session: Session, webhook_id: uuid.UUID) -> Webhook | None:
    """The webhook, locked, if it is enabled and no other node holds it (PostgreSQL skips a
    locked one instead of waiting: that node is reading its feed)."""
    stmt = select(Webhook).where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalars(stmt).first()


def add_delivery(session: Session, delivery: WebhookDelivery) -> None:
    session.add(delivery)


def get_delivery(
    session: Session, tenant_id: uuid.UUID, webhook_id: uuid.UUID, delivery_id: int
) -> WebhookDelivery | None:
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id,
        WebhookDelivery.webhook_id == webhook_id,
        WebhookDelivery.id == delivery_id,
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def deliveries_page(
    session: Session,
    tenant_id: uuid.UUID,
    webhook_id: uuid.UUID,
    *,
    status: str | None,
    before_id: int | None,
    limit: int,
) -> list[WebhookDelivery]:
    """A webhook's deliveries, newest first, below ``before_id`` (keyset)."""
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.webhook_id == webhook_id
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def claim_due(
    session: Session, now: datetime, until: datetime, limit: int
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Up to ``limit`` pending deliveries due at ``now`` of enabled webhooks, across
    tenants, each claimed until ``until`` (its next attempt moves there and its attempts
    count up), so no other node takes it meanwhile. Rows another node has locked are
    skipped. The caller commits the claim before it sends anything."""
    stmt = (
        select(WebhookDelivery)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(
            WebhookDelivery.status == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            Webhook.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)
    claimed = list(session.scalars(stmt))
    if not claimed:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([d.id for d in claimed]))
        .values(next_attempt_at=until, attempts=WebhookDelivery.attempts + 1, last_attempt_at=now)
        .execution_options(synchronize_session="fetch")
    )
    hooks = {
        h.id: h
        for h in session.scalars(
            select(Webhook).where(Webhook.id.in_({d.webhook_id for d in claimed}))
        )
    }
    return [(d, hooks[d.webhook_id]) for d in claimed]


def mark_succeeded(session: Session, codes: Mapping[int, int | None]) -> None:
    """Mark the deliveries of ``codes`` (id -> the receiver's HTTP status) succeeded, in one
    executemany; an id that no longer exists changes nothing."""
    if not codes:
        return
    table = cast(Table, WebhookDelivery.__table__)
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("delivery_id"))
        .values(
            status=SUCCEEDED,
            response_code=bindparam("code"),
            last_error=None,
            next_attempt_at=None,
        ),
        [{"delivery_id": i, "code": code} for i, code in sorted(codes.items())],
    )


def deliveries_for_update(
    session: Session, delivery_ids: Collection[int]
) -> dict[int, WebhookDelivery]:
    """The deliveries of ``delivery_ids`` that still exist, by id, locked in one statement
    in id order (two nodes locking overlapping sets then queue instead of deadlocking)."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(sorted(delivery_ids)))
        .order_by(WebhookDelivery.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {d.id: d for d in session.scalars(stmt)}


def webhook_for_update(session: Session, webhook_id: uuid.UUID) -> Webhook | None:
    return session.scalars(
        _locking(session, select(Webhook).where(Webhook.id == webhook_id))
    ).first()


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Lock the tenant's row (PostgreSQL): its webhook creations then count one at a time."""
    session.get(Tenant, tenant_id, with_for_update=True)


def delete_finished_before(session: Session, cutoff: datetime, batch: int) -> int:
    """Delete at most ``batch`` succeeded or failed deliveries made before ``cutoff``, across
    tenants; how many went (bounded, as the audit trail's retention is)."""
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.created_at < cutoff, WebhookDelivery.status != PENDING)
        .order_by(WebhookDelivery.created_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    result = session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
