from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rosterd.models.base import Base, utcnow

if TYPE_CHECKING:
    from rosterd.models.user import User


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(2000))
    # users.team_id and teams.manager_id point at each other; use_alter breaks the cycle.
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    manager: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[manager_id])

    __table_args__ = (
        Index("uq_teams_tenant_name", "tenant_id", func.lower(name), unique=True),
        Index("ix_teams_manager_id", "manager_id"),
    )
