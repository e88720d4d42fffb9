"""Scheduled access: the rules of a user's ``validFrom`` and ``expiresAt`` and of a
membership's ``expiresAt``, and the scheduler's work when they come.

The rules, for every surface (v2 ``validFrom``/``expiresAt``, ADMIN ``expiredDate``) and in
this one place:

- times carry a zone (a time without one is refused, 400); ``validFrom`` is before
  ``expiresAt`` (else 422);
- a user with a ``validFrom`` ahead is pending (not active, so it cannot sign in) until
  then, and the scheduler makes it active; only a pending user can have one ahead (422);
  a ``validFrom`` that has come (or is cleared) makes a user pending by its schedule active
  at once;
- made active by hand before its ``validFrom``, the user's ``validFrom`` becomes now; moved
  to another status by hand, a ``validFrom`` still ahead is dropped;
- an expiry in the past is stored as now and deactivates at once (seed 002); a future one is
  the scheduler's; clearing or moving ahead an expiry that came reactivates the user;
- a sign-in recorded for a time before the user's validFrom is refused (422);
- a membership's expiry is in the future (422); the scheduler removes it when it comes.

The scheduler's work (``expire_due``, ``activate_due``, ``remove_due_memberships``) runs in
``rosterd serve`` (rosterd.lifecycle.scheduler), every action audited by the system actor
``scheduler`` and so an event of the feed. Several nodes may run it on one database: rows are
claimed with locks, skipping those another node holds, so each action happens once.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rosterd.models import User, UserStatus
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field, unprocessable_field

SCHEDULER_ACTOR = "scheduler"
SURFACE = "lifecycle"


def _aware(value: datetime | None, field: str) -> None:
    if value is not None and value.tzinfo is None:
        raise invalid_field(field, "give a time zone (e.g. 2030-01-31T09:00:00Z)")


def _ordered(valid_from: datetime | None, expires_at: datetime | None, field: str) -> None:
    if valid_from is not None and expires_at is not None and valid_from >= expires_at:
        other = "expires_at" if field == "valid_from" else "valid_from"
        relation = "before" if field == "valid_from" else "after"
        raise unprocessable_field(field, f"must be {relation} {other}")


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


def new_user_schedule(
    status: UserStatus, valid_from: datetime | None, expires_at: datetime | None, now: datetime
) -> dict[str, Any]:
    """The status, validFrom and expiry a new user is stored with, asked for ``status``."""
    _aware(valid_from, "valid_from")
    _aware(expires_at, "expires_at")
    _ordered(valid_from, expires_at, "valid_from")
    stored_expiry, expired = effective_expiry(expires_at, now)
    if expired:
        status = UserStatus.inactive
    elif valid_from is not None and valid_from > now:
        if status not in (UserStatus.pending, UserStatus.active):
            raise unprocessable_field(
                "valid_from", f"a user made {status.value} cannot have a validFrom ahead"
            )
        status = UserStatus.pending
    elif valid_from is not None and status == UserStatus.pending:
        status = UserStatus.active  # its start has come already
    return {"status": status, "valid_from": valid_from, "expires_at": stored_expiry}


def patched_schedule(user: User, sent: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The status, validFrom and expiry of ``user`` after a change of the fields ``sent``
    (column values; ``status`` already checked by rules.status_change). Empty when the
    change touches none of them."""
    if not sent.keys() & {"status", "valid_from", "expires_at"}:
        return {}
    for name in ("valid_from", "expires_at"):
        if name in sent:
            _aware(sent[name], name)
    status: UserStatus = sent.get("status", user.status)
    by_hand = status != user.status
    valid_from = sent.get("valid_from", user.valid_from)
    if "valid_from" in sent or "expires_at" in sent:
        checked = "valid_from" if "valid_from" in sent else "expires_at"
        _ordered(valid_from, sent.get("expires_at", user.expires_at), checked)
    if "valid_from" in sent:
        if valid_from is not None and valid_from > now:
            if status != UserStatus.pending:
                raise unprocessable_field(
                    "valid_from", f"a validFrom ahead is for a pending user; this one is {status}"
                )
        elif status == UserStatus.pending and (valid_from or user.valid_from) is not None:
            status = UserStatus.active  # its start has come, or no longer waits
    elif by_hand and user.valid_from is not None and user.valid_from > now:
        # Moved off pending before its start: activated early, or its start cancelled.
        valid_from = now if status == UserStatus.active else None
    expires_at = user.expires_at
    if "expires_at" in sent:
        expires_at, expired = effective_expiry(sent["expires_at"], now)
        if expired:
            status = UserStatus.inactive
        elif not by_hand and expiry_lifted(user.status, user.expires_at, sent["expires_at"], now):
            status = UserStatus.active
    elif reactivation_lifts_expiry(user, status if by_hand else None, now):
        # Reactivated after its expiry fired: the old date must not deactivate it again.
        expires_at = None
    return {"status": status, "valid_from": valid_from, "expires_at": expires_at}


def check_sign_in(user: User, at: datetime) -> None:
    """A user cannot sign in before its start: a sign-in recorded for a time before its
    validFrom did not happen."""
    if user.valid_from is not None and at < user.valid_from:
        raise unprocessable_field("at", "the user cannot sign in before its validFrom")


def membership_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    """A new membership's expiry: none, or a time ahead."""
    _aware(expires_at, "expires_at")
    if expires_at is not None and expires_at <= now:
        raise unprocessable_field("expires_at", "must be in the future")
    return expires_at


# ---- what is scheduled ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiryPage:
    users: list[User]
    next_cursor: str | None


def _expiry_cursor(user: User) -> str:
    assert user.expires_at is not None
    raw = f"{user.expires_at.isoformat()}|{user.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after_expiry(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        at, _, user_id = raw.partition("|")
        moment, after_id = datetime.fromisoformat(at), uuid.UUID(user_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_field("cursor", "not a cursor rosterd gave") from None
    if moment.tzinfo is None:
        raise invalid_field("cursor", "not a cursor rosterd gave")
    return moment, after_id


def scheduled_expiries(
    session: Session, actor: Actor, cursor: str | None, limit: int
) -> ExpiryPage:
    """A keyset page of the tenant's users whose expiry the scheduler is still to carry out,
    soonest first (one whose time came a moment ago and is not yet done comes first)."""
    after = None if cursor is None else _after_expiry(cursor)
    rows = users_repo.expiring_page(session, actor.tenant_id, after, limit + 1)
    shown = rows[:limit]
    return ExpiryPage(shown, _expiry_cursor(shown[-1]) if len(rows) > limit else None)


# ---- the scheduler's work ------------------------------------------------------------------


def _system(tenant_id: uuid.UUID) -> Actor:
    return Actor(tenant_id=tenant_id, actor=SCHEDULER_ACTOR, surface=SURFACE)


def _set_status(session: Session, user: User, status: UserStatus, action: str) -> None:
    before = audit.snapshot(user)
    users_repo.update_row(session, user, {"status": status})
    after = audit.snapshot(user)
    audit.record(
        session, _system(user.tenant_id), action, "user", user.id, before=before, after=after
    )


def expire_due(session: Session, now: datetime, batch: int = 500) -> int:
    """Deactivate users whose expiry has come; returns how many. One batch per call."""
    due = users_repo.due_for_expiry(session, now, batch)
    for user in due:
        _set_status(session, user, UserStatus.inactive, "user.expired")
    return len(due)


def activate_due(session: Session, now: datetime, batch: int = 500) -> int:
    """Make active the pending users whose validFrom has come (and whose expiry has not);
    returns how many. One batch per call."""
    due = users_repo.due_for_activation(session, now, batch)
    for user in due:
        _set_status(session, user, UserStatus.active, "user.activated")
    return len(due)


def remove_due_memberships(session: Session, now: datetime, batch: int = 500) -> int:
    """Remove memberships whose expiry has come; returns how many. One batch per call.

    Each group is locked before its memberships are deleted, as every writer of members does
    (no deadlock with them); a group another transaction holds is skipped until the next run
    (PostgreSQL). The DELETE names the expiry it acts on, so a membership another node
    removed, or one renewed meanwhile, is not removed (or audited) twice.
    """
    due = groups_repo.due_memberships(session, now, batch)
    held = set(groups_repo.lock_any(session, sorted({group_id for _, group_id, _ in due})))
    removed = groups_repo.remove_due_memberships(
        session, [(g, u) for _, g, u in due if g in held], now
    )
    touched: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for tenant_id, group_id, user_id, expires_at in removed:
        touched[tenant_id].add(group_id)
        audit.record(
            session,
            _system(tenant_id),
            "group.member_expired",
            "group",
            group_id,
            before={"user_id": str(user_id), "expires_at": audit.jsonable(expires_at)},
        )
    for tenant_id, group_ids in touched.items():
        groups_repo.touch(session, tenant_id, sorted(group_ids))
    return len(removed)
