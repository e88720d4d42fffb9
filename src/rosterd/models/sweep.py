"""Idle sweeps: a plan of the users found idle, and what applying it did to each."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class IdleSweep(Base):
    """A plan: who was idle at ``cutoff`` by the sweep's rules, and its state.

    ``state`` is ``planned`` (waiting for apply), ``held`` (above the tenant's guard: applies
    only when an ``admin`` client confirms) or ``applied``. ``held`` stays true once applied,
    as the record of the guard having stopped it.
    """

    __tablename__ = "idle_sweeps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    inactive_days: Mapped[int]
    # How users who never signed in are treated: byCreationDate, include or exclude.
    never_signed_in: Mapped[str] = mapped_column(String(16))
    # What apply does to each user: deactivate or offboard.
    action: Mapped[str] = mapped_column(String(16))
    cutoff: Mapped[datetime]
    user_count: Mapped[int]
    # The tenant's active users when the plan was made, and the guard it was measured by.
    active_users: Mapped[int]
    guard_percent: Mapped[float]
    guard_users: Mapped[int]
    held: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_by: Mapped[str | None] = mapped_column(String(255))
    applied_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idle_sweeps_tenant_created_at", "tenant_id", "created_at"),)


class IdleSweepUser(Base):
    """One planned user: why it matched and, once applied, what happened to it.

    ``user_id`` is no foreign key: a user deleted after the plan stays listed, reported as
    skipped (``deleted``). Pages of a plan are read by (sweep_id, user_id), the primary key.
    """

    __tablename__ = "idle_sweep_users"

    sweep_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("idle_sweeps.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The user's last sign-in (None: never signed in) and creation, as the plan saw them.
    last_login_at: Mapped[datetime | None]
    user_created_at: Mapped[datetime]
    # deactivated, offboarded or skipped; None until applied.
    outcome: Mapped[str | None] = mapped_column(String(16))
    # Why a user was skipped: signed_in, not_active or deleted.
    skip_reason: Mapped[str | None] = mapped_column(String(16))
    acted_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_idle_sweep_users_tenant_id", "tenant_id"),)
