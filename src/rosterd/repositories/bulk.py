"""Multi-row INSERTs for the bulk import path (executemany; no ORM unit of work)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from rosterd.models import AuditEvent, Group, GroupMembership, Role, Team, User


def name_maps(
    session: Session, tenant_id: uuid.UUID
) -> tuple[dict[str, uuid.UUID], dict[str, uuid.UUID], dict[str, uuid.UUID]]:
    """Lower-cased name → id of the tenant's groups, teams and roles."""

    def load(model: type[Group] | type[Team] | type[Role]) -> dict[str, uuid.UUID]:
        rows = session.execute(
            select(func.lower(model.name), model.id).where(model.tenant_id == tenant_id)
        )
        return {name: id_ for name, id_ in rows}

    return load(Group), load(Team), load(Role)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    # Core INSERT on the table, not the ORM bulk path: a third of the cost per row.
    if rows:
        session.execute(insert(model.__table__), rows)


def insert_groups(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, Group, rows)


def insert_teams(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, Team, rows)


def insert_users(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, User, rows)


def insert_memberships(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, GroupMembership, rows)


def insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, AuditEvent, rows)
