"""Sign-ins: when a user last signed in, as the application that signs them in reports it.

This is what idle sweeps (rosterd.services.idle_sweeps) measure idleness by, and what every
surface shows as the last login (v2 ``lastLoginAt``, /api/v1 ``lastLogin``, ADMIN
``lastLoginDate``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.models import User
from rosterd.models.base import utcnow
from rosterd.repositories import users as users_repo
from rosterd.services import audit, lifecycle
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field


def record_sign_in(
    session: Session, actor: Actor, user_id: uuid.UUID, at: datetime | None = None
) -> User:
    """Record that the user signed in at ``at`` (now when None). A time before the stored
    last sign-in (a late backfill) leaves it as it is; a time in the future is refused."""
    now = utcnow()
    if at is None:
        at = now
    elif at > now:
        raise invalid_field("at", "a sign-in cannot be in the future")
    user = users_service.get_user(session, actor, user_id)
    lifecycle.check_sign_in(user, at)
    before = user.last_login_at
    if users_repo.record_sign_in(session, actor.tenant_id, user_id, at):
        audit.record(
            session,
            actor,
            "user.signed_in",
            "user",
            user_id,
            before={"last_login_at": audit.jsonable(before)},
            after={"last_login_at": audit.jsonable(at)},
        )
    # What is stored now: this sign-in, or a later one (recorded before, or meanwhile).
    session.refresh(user, attribute_names=["last_login_at"])
    return user
