"""The journal of local imports: which lines of which file each committed batch covered.

A row is written in the same transaction as the batch it records, so a batch is either
stored and journaled or neither: a re-run of ``rosterd import`` (after a crash, a kill -9, a
bad line fixed elsewhere) reads where the last committed batch ended and goes on from the
next line, never writing a line twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class ImportBatch(Base):
    __tablename__ = "import_journal"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    # sha256 of the file's format and content (rosterd.services.import_files.import_id): the
    # same file is the same import, wherever it lies and whatever it is called.
    import_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The file lines (1-based, blank ones included in the count) the batch covered.
    first_line: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_line: Mapped[int]
    # What the batch did: created and existing counts by kind (ImportResult's fields).
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    done_at: Mapped[datetime] = mapped_column(default=utcnow)
