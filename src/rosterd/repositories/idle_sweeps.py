"""Idle sweep plans and their users; the search for idle users.

A plan's users are written by INSERT ... SELECT, so a sweep over a million users never
carries them through Python. The search reads ``ix_users_tenant_status_last_login_created``:
(tenant, active, signed in before the cutoff) is one range of it, and (tenant, active,
never signed in, created before the cutoff) another.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Uuid, and_, func, insert, literal, select
from sqlalchemy.orm import Session

from rosterd.models import IdleSweep, IdleSweepUser, User, UserStatus

BY_CREATION_DATE = "byCreationDate"
INCLUDE = "include"
EXCLUDE = "exclude"


def _idle_conditions(sweep: IdleSweep) -> list[ColumnElement[bool]]:
    """One condition per index range the sweep's users lie in."""
    parts = [User.last_login_at < sweep.cutoff]
    if sweep.never_signed_in == BY_CREATION_DATE:
        parts.append(and_(User.last_login_at.is_(None), User.created_at < sweep.cutoff))
    elif sweep.never_signed_in == INCLUDE:
        parts.append(User.last_login_at.is_(None))
    return parts


def add(session: Session, sweep: IdleSweep) -> IdleSweep:
    session.add(sweep)
    session.flush()
    return sweep


def get(
    session: Session, tenant_id: uuid.UUID, sweep_id: uuid.UUID, *, for_update: bool = False
) -> IdleSweep | None:
    """The sweep; ``for_update`` locks its row (PostgreSQL; SQLite has one writer), so
    concurrent applies of one plan queue and the later sees it applied."""
    stmt = select(IdleSweep).where(IdleSweep.tenant_id == tenant_id, IdleSweep.id == sweep_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def recent(session: Session, tenant_id: uuid.UUID, limit: int) -> list[IdleSweep]:
    """The tenant's latest plans, newest first (ix_idle_sweeps_tenant_created_at)."""
    stmt = (
        select(IdleSweep)
        .where(IdleSweep.tenant_id == tenant_id)
        .order_by(IdleSweep.created_at.desc(), IdleSweep.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def plan_users(session: Session, sweep: IdleSweep) -> int:
    """Write the tenant's active users that are idle by ``sweep``'s rules as its plan;
    how many there are."""
    columns = ["sweep_id", "tenant_id", "user_id", "last_login_at", "user_created_at"]
    for condition in _idle_conditions(sweep):
        idle = select(
            literal(sweep.id, Uuid()), User.tenant_id, User.id, User.last_login_at, User.created_at
        ).where(User.tenant_id == sweep.tenant_id, User.status == UserStatus.active, condition)
        session.execute(insert(IdleSweepUser).from_select(columns, idle))
    return int(
        session.scalar(
            select(func.count())
            .select_from(IdleSweepUser)
            .where(IdleSweepUser.sweep_id == sweep.id)
        )
        or 0
    )


def chunk(
    session: Session, sweep_id: uuid.UUID, after: uuid.UUID | None, size: int
) -> list[IdleSweepUser]:
    """The plan's next ``size`` users after ``after``, in user id order (the primary key)."""
    stmt = select(IdleSweepUser).where(IdleSweepUser.sweep_id == sweep_id)
    if after is not None:
        stmt = stmt.where(IdleSweepUser.user_id > after)
    return list(session.scalars(stmt.order_by(IdleSweepUser.user_id).limit(size)))


def page(
    session: Session, sweep_id: uuid.UUID, after: uuid.UUID | None, size: int
) -> list[tuple[IdleSweepUser, str | None, str | None]]:
    """A keyset page of the plan's users with their username and email as they are now
    (None for a user deleted since)."""
    stmt = (
        select(IdleSweepUser, User.username, User.email)
        .outerjoin(
            User, and_(User.tenant_id == IdleSweepUser.tenant_id, User.id == IdleSweepUser.user_id)
        )
        .where(IdleSweepUser.sweep_id == sweep_id)
    )
    if after is not None:
        stmt = stmt.where(IdleSweepUser.user_id > after)
    rows = session.execute(stmt.order_by(IdleSweepUser.user_id).limit(size))
    return [(row[0], row[1], row[2]) for row in rows]


def outcomes(session: Session, sweep_id: uuid.UUID) -> dict[tuple[str, str | None], int]:
    """How many of the plan's users had each (outcome, skip reason)."""
    rows = session.execute(
        select(IdleSweepUser.outcome, IdleSweepUser.skip_reason, func.count())
        .where(IdleSweepUser.sweep_id == sweep_id, IdleSweepUser.outcome.is_not(None))
        .group_by(IdleSweepUser.outcome, IdleSweepUser.skip_reason)
    ).all()
    return {(str(outcome), reason): int(n) for outcome, reason, n in rows}
