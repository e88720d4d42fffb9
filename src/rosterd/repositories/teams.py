from __future__ import annotations

import uuid

from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.orm import Session, joinedload

from rosterd.models import Team, User
from rosterd.repositories._sql import contains_ci, count


def get(
    session: Session, tenant_id: uuid.UUID, team_id: uuid.UUID, *, for_update: bool = False
) -> Team | None:
    """The team with its manager; ``for_update`` locks the team's row (not its manager's),
    read fresh, until the transaction ends."""
    stmt = (
        select(Team)
        .options(joinedload(Team.manager))
        .where(Team.tenant_id == tenant_id, Team.id == team_id)
    )
    if for_update:
        stmt = stmt.with_for_update(of=Team, key_share=True).execution_options(
            populate_existing=True
        )
    return session.scalar(stmt)


def find_by_name(session: Session, tenant_id: uuid.UUID, name: str) -> Team | None:
    return session.scalar(
        select(Team).where(Team.tenant_id == tenant_id, func.lower(Team.name) == func.lower(name))
    )


def search(
    session: Session, tenant_id: uuid.UUID, *, query: str | None, offset: int, limit: int
) -> tuple[list[Team], int]:
    stmt = select(Team).where(Team.tenant_id == tenant_id)
    if query:
        stmt = stmt.where(contains_ci([Team.name], query))
    total = count(session, stmt)
    rows = session.scalars(
        stmt.options(joinedload(Team.manager))
        .order_by(func.lower(Team.name), Team.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def page_after(
    session: Session, tenant_id: uuid.UUID, *, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[Team]:
    """A keyset page in ``search``'s order (name, case-insensitively, then id), with each
    team's manager: the teams after the one of this (name, id)."""
    stmt = select(Team).where(Team.tenant_id == tenant_id)
    if after is not None:
        name, last_id = after
        stmt = stmt.where(
            tuple_(func.lower(Team.name), Team.id) > tuple_(func.lower(literal(name)), last_id)
        )
    stmt = stmt.options(joinedload(Team.manager)).order_by(func.lower(Team.name), Team.id)
    return list(session.scalars(stmt.limit(limit)))


def member_counts(
    session: Session, tenant_id: uuid.UUID, team_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not team_ids:
        return {}
    rows = session.execute(
        select(User.team_id, func.count())
        .where(User.tenant_id == tenant_id, User.team_id.in_(team_ids))
        .group_by(User.team_id)
    )
    return {tid: int(n) for tid, n in rows if tid is not None}


def managed_by(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[Team]:
    """The teams ``user_id`` manages, locked in id order (PostgreSQL) until the transaction
    ends, for handing them over."""
    return list(
        session.scalars(
            select(Team)
            .where(Team.tenant_id == tenant_id, Team.manager_id == user_id)
            .order_by(Team.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def reassign_managed(
    session: Session, tenant_id: uuid.UUID, from_user: uuid.UUID, to_user: uuid.UUID
) -> None:
    session.execute(
        update(Team)
        .where(Team.tenant_id == tenant_id, Team.manager_id == from_user)
        .values(manager_id=to_user)
    )


def add(session: Session, team: Team) -> Team:
    session.add(team)
    session.flush()
    return team


def remove(session: Session, team: Team) -> None:
    session.execute(
        update(User)
        .where(User.tenant_id == team.tenant_id, User.team_id == team.id)
        .values(team_id=None, version=User.version + 1)
    )
    session.delete(team)
    session.flush()
