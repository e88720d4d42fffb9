from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base
from rosterd.models.user import UserStatus, status_type


class UserTally(Base):
    """How many users a tenant has in each status, kept exact by triggers on ``users``.

    A page's total (``totalCount``, SCIM ``totalResults``) when the only filter is the status
    is read from here instead of counting the rows: at a million users that count was most
    of a list request. Nothing in Python writes this table but the scheduler's fold
    (``rosterd.repositories.user_tallies.fold``); migration 0006 says how the triggers keep
    it and why they cannot drift, 0023 why a tally is the sum of its rows' slots.
    """

    __tablename__ = "user_tallies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[UserStatus] = mapped_column(status_type(), primary_key=True)
    # The PostgreSQL backend whose transactions added these changes (0 on SQLite, and
    # where the fold gathers them): a tally is the sum over its slots.
    slot: Mapped[int] = mapped_column(primary_key=True, server_default="0")
    # May be negative in a slot: the users a backend's transactions removed.
    users: Mapped[int]
