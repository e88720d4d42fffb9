"""What the console's dashboard shows of a tenant: users by status (from the tallies the
triggers keep) and how long ago they last signed in, each a count on an index, so the page
costs the same at a million users as at ten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.models import UserStatus
from rosterd.repositories import user_tallies
from rosterd.repositories.users import UserQuery
from rosterd.services import users as users_service
from rosterd.services.context import Actor

# Before any sign-in rosterd records: users "last signed in before" it never signed in.
_BEFORE_ANY_SIGN_IN = datetime(1970, 1, 1, tzinfo=UTC)
IDLE_DAYS = (30, 60, 90)


@dataclass(frozen=True)
class Bucket:
    label: str
    users: int


@dataclass(frozen=True)
class Overview:
    by_status: list[Bucket]
    total: int
    never_signed_in: int
    # Signed in within 30 days, idle 30-60, 60-90 and 90+ days, never signed in.
    sign_in_recency: list[Bucket]


def _signed_in_before(session: Session, actor: Actor, moment: datetime) -> int:
    """Users last signed in before ``moment``, or never (as the v2 filter counts them)."""
    _, total = users_service.list_user_rows(
        session, actor, UserQuery(last_login_before=moment, limit=1)
    )
    return total.value


def overview(session: Session, actor: Actor, now: datetime) -> Overview:
    by_status = [
        Bucket(status.value, user_tallies.total(session, actor.tenant_id, [status]))
        for status in UserStatus
    ]
    total = sum(bucket.users for bucket in by_status)
    never = _signed_in_before(session, actor, _BEFORE_ANY_SIGN_IN)
    idle = [
        _signed_in_before(session, actor, now - timedelta(days=days)) - never for days in IDLE_DAYS
    ]
    recent = total - never - idle[0]
    recency = [
        Bucket("signed in within 30 days", recent),
        Bucket("idle 30-60 days", idle[0] - idle[1]),
        Bucket("idle 60-90 days", idle[1] - idle[2]),
        Bucket("idle 90+ days", idle[2]),
        Bucket("never signed in", never),
    ]
    return Overview(
        by_status=by_status, total=total, never_signed_in=never, sign_in_recency=recency
    )
