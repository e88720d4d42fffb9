"""SQL of the import journal (rosterd.models.import_journal), tenant-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session

from rosterd.models import ImportBatch


def record(
    session: Session,
    tenant_id: uuid.UUID,
    import_id: str,
    first_line: int,
    last_line: int,
    counts: dict[str, Any],
) -> None:
    """Note a batch as done, in the caller's (the batch's) transaction. A second run writing
    the same batch meanwhile makes one of the two fail on the primary key."""
    session.execute(
        insert(ImportBatch).values(
            tenant_id=tenant_id,
            import_id=import_id,
            first_line=first_line,
            last_line=last_line,
            counts=counts,
        )
    )


def batches(session: Session, tenant_id: uuid.UUID, import_id: str) -> list[ImportBatch]:
    """The batches of an import committed so far, in file order."""
    return list(
        session.scalars(
            select(ImportBatch)
            .where(ImportBatch.tenant_id == tenant_id, ImportBatch.import_id == import_id)
            .order_by(ImportBatch.first_line)
        )
    )


def last_line(session: Session, tenant_id: uuid.UUID, import_id: str) -> int:
    """The last file line a committed batch of the import covered; 0 before the first."""
    found = session.scalar(
        select(func.max(ImportBatch.last_line)).where(
            ImportBatch.tenant_id == tenant_id, ImportBatch.import_id == import_id
        )
    )
    return int(found or 0)


def has_batch(session: Session, tenant_id: uuid.UUID, import_id: str, first_line: int) -> bool:
    """Whether a run of the import committed the batch that starts at ``first_line``."""
    found = session.scalar(
        select(ImportBatch.first_line).where(
            ImportBatch.tenant_id == tenant_id,
            ImportBatch.import_id == import_id,
            ImportBatch.first_line == first_line,
        )
    )
    return found is not None


def delete_finished_before(
    session: Session, tenant_id: uuid.UUID, cutoff: datetime, batch: int
) -> int:
    """Delete at most ``batch`` journal rows of the tenant's imports whose last batch was
    done before ``cutoff``; how many went. An import is forgotten whole, never in part: a
    re-run of one that was forgotten starts from its first line and finds what it made
    there already."""
    finished = (
        select(ImportBatch.import_id)
        .where(ImportBatch.tenant_id == tenant_id)
        .group_by(ImportBatch.import_id)
        .having(func.max(ImportBatch.done_at) < cutoff)
    )
    key = tuple_(ImportBatch.tenant_id, ImportBatch.import_id, ImportBatch.first_line)
    due = (
        select(ImportBatch.tenant_id, ImportBatch.import_id, ImportBatch.first_line)
        .where(ImportBatch.tenant_id == tenant_id, ImportBatch.import_id.in_(finished))
        .limit(batch)
    )
    result = session.execute(
        delete(ImportBatch).where(key.in_(due)),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
