"""The admin console's sessions, found by the HMAC of their token."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rosterd.models import ConsoleSession


def add(session: Session, record: ConsoleSession) -> ConsoleSession:
    session.add(record)
    session.flush()
    return record


def find(session: Session, token_hash: str) -> ConsoleSession | None:
    return session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def remove(session: Session, token_hash: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash))
