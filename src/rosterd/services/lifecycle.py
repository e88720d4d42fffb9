"""Scheduled lifecycle: expiry dates that deactivate users when they come."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.models import User, UserStatus
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor

SCHEDULER_ACTOR = "scheduler"


def effective_expiry(requested: datetime | None, now: datetime) -> tuple[datetime | None, bool]:
    """What to store for a requested expiry, and whether the user is to be deactivated now.

    A time in the past is stored as now and deactivates at once (seed 002); a future time is
    stored for the scheduler; None clears a pending expiry.
    """
    if requested is None:
        return None, False
    if requested <= now:
        return now, True
    return requested, False


def expiry_lifted(
    status: UserStatus, stored: datetime | None, requested: datetime | None, now: datetime
) -> bool:
    """Whether replacing the stored expiry with ``requested`` reactivates the user.

    Only a user made inactive by an expiry that came is; clearing that expiry, or moving it
    ahead, removes the reason. A user deactivated otherwise (through another API) while an
    expiry was still pending stays inactive.
    """
    came = status == UserStatus.inactive and stored is not None and stored <= now
    return came and (requested is None or requested > now)


def reactivation_lifts_expiry(user: User, new_status: UserStatus | None, now: datetime) -> bool:
    """Whether making ``user`` active now also cancels an expiry that has already passed."""
    return (
        new_status == UserStatus.active
        and user.status != UserStatus.active
        and user.expires_at is not None
        and user.expires_at <= now
    )


def expire_due(session: Session, now: datetime, batch: int = 500) -> int:
    """Deactivate every user whose expiry has come; returns how many. One batch per call."""
    due = users_repo.due_for_expiry(session, now, batch)
    for user in due:
        before = audit.snapshot(user)
        user.status = UserStatus.inactive
        session.flush()
        audit.record(
            session,
            Actor(tenant_id=user.tenant_id, actor=SCHEDULER_ACTOR, surface="lifecycle"),
            "user.expired",
            "user",
            user.id,
            before=before,
            after=audit.snapshot(user),
        )
    return len(due)
