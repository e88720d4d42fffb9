"""Multi-row INSERTs for the bulk import path (executemany; no ORM unit of work)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
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
    """Users, as multi-row INSERT statements of about a thousand rows each.

    RETURNING is what makes SQLAlchemy batch an executemany into multi-row statements
    ("insertmanyvalues"); the ids it returns are not needed. It matters on SQLite: each users
    row also goes into the FTS5 search table (the triggers of migration 0004), and FTS5 writes
    its pending index data out at the end of every statement, so one statement a row tripled
    the time of these INSERTs.
    """
    if rows:
        users = cast(Table, User.__table__)
        session.execute(insert(users).returning(users.c.id), rows)


def insert_memberships(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, GroupMembership, rows)


def insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    _insert(session, AuditEvent, rows)
