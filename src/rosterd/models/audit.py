"""The audit trail, which is also the outbox of the event feed (rosterd.events.feed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from rosterd.models.base import Base, utcnow


class current_tx(FunctionElement[int]):  # noqa: N801 (an SQL function, named as one)
    """The id of the writing transaction on PostgreSQL (``txid_current()``, 64-bit, never
    wraps); NULL on SQLite, whose one writer commits in id order (rosterd.events.feed)."""

    type = BigInteger()
    inherit_cache = True


@compiles(current_tx)
def _current_tx(element: current_tx, compiler: SQLCompiler, **kw: Any) -> str:
    return "NULL"


@compiles(current_tx, "postgresql")
def _current_tx_pg(element: current_tx, compiler: SQLCompiler, **kw: Any) -> str:
    return "txid_current()"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(255))
    surface: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Filled by the database in the INSERT itself (a server default): the feed's commit order.
    tx: Mapped[int | None] = mapped_column(BigInteger, server_default=current_tx())

    __table_args__ = (
        Index("ix_audit_events_tenant_occurred_at", "tenant_id", "occurred_at"),
        # The audit API's keyset pages, newest first: all events, one resource's, one actor's.
        Index("ix_audit_events_tenant_id", "tenant_id", "id"),
        Index("ix_audit_events_tenant_resource", "tenant_id", "resource_type", "resource_id", "id"),
        Index("ix_audit_events_tenant_actor", "tenant_id", "actor", "id"),
        # The event feed's order on PostgreSQL; SQLite's is the id (ix_audit_events_tenant_id).
        Index("ix_audit_events_tenant_tx", "tenant_id", "tx", "id").ddl_if(dialect="postgresql"),
        # Ids are never used twice, even after the newest events are deleted (retention, a
        # tenant's removal): a feed cursor past them must not skip the events that follow.
        {"sqlite_autoincrement": True},
    )
