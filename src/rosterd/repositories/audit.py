from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from rosterd.models import AuditEvent

_INSERT = insert(cast(Table, AuditEvent.__table__))


def add(session: Session, values: dict[str, Any]) -> None:
    """Write one audit row now, as a plain INSERT: nothing reads the event back, so it needs
    no entity or unit of work (which cost as much as the user's own row)."""
    session.execute(_INSERT, values)


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
