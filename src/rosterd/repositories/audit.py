from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from rosterd.models import AuditEvent


def add(session: Session, event: AuditEvent) -> None:
    session.add(event)


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
