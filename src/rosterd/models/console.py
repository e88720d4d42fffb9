from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class ConsoleSession(Base):
    """An admin's signed-in session of the admin console (and, later, of the OAuth
    authorization endpoint's sign-in).

    The cookie holds a random token; only its HMAC is kept, like every other token. The
    session ends on sign-out (the row is deleted), after ``ROSTERD_CONSOLE_IDLE_MINUTES``
    without a request (``last_seen_at``), ``ROSTERD_CONSOLE_ABSOLUTE_HOURS`` after
    ``created_at`` whatever happens, and when the admin's ``token_epoch`` moves on from
    ``token_epoch`` (logout everywhere, password reset, offboarding).
    """

    __tablename__ = "console_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    admin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_epoch: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_console_sessions_admin_id", "admin_id"),)
