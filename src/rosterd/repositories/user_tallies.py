"""Totals read from ``user_tallies`` (kept by triggers, see migration 0006) instead of counted."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rosterd.models import UserStatus, UserTally


def total(session: Session, tenant_id: uuid.UUID, statuses: Collection[UserStatus]) -> int:
    """How many of the tenant's users are in one of ``statuses``: one to four small rows."""
    stmt = select(func.coalesce(func.sum(UserTally.users), 0)).where(
        UserTally.tenant_id == tenant_id, UserTally.status.in_(statuses)
    )
    return int(session.scalar(stmt) or 0)
