"""The admin console's sessions, found by the HMAC of their token."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rosterd.models import ConsoleSession


def add(session: Session, record: ConsoleSession) -> ConsoleSession:
    session.add(record)
    session.flush()
    return record


def find(session: Session, token_hash: str) -> ConsoleSession | None:
    return session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def remove(session: Session, token_hash: str) -> uuid.UUID | None:
    """Delete the session; its admin's id, or None when it was gone already (so of two
    concurrent removals, one only sees it go)."""
    removed = session.execute(
        delete(ConsoleSession)
        .where(ConsoleSession.token_hash == token_hash)
        .returning(ConsoleSession.admin_id)
    )
    return removed.scalar_one_or_none()
