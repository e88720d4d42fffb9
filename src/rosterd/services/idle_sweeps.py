"""Idle sweeps: plan who is idle, then apply the plan, with a guard against sweeping too many.

A plan lists the tenant's active users idle at its cutoff (now - ``inactive_days``): signed
in last before it, or never signed in and, by the ``never_signed_in`` rule, created before it
(``byCreationDate``, the default), always (``include``) or never (``exclude``). Applying it
acts on exactly those users that still match: each is locked and checked again, and one that
signed in since, is no longer active or was deleted is skipped and reported so. The outcome
is recorded per user.

A plan touching more of the tenant than its guard allows (more than a share of its active
users, or more than a number of users; rosterd.services.tenants.idle_sweep_guard) is
``held``: it applies only with an explicit confirmation by a client holding ``admin``.

Applying locks the plan's row first, so concurrent applies of one plan queue: the first acts,
the others find it applied and act on no one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.auth.scopes import Scope, grants
from rosterd.models import IdleSweep, IdleSweepUser, User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import idle_sweeps as sweeps_repo
from rosterd.repositories import user_tallies
from rosterd.repositories import users as users_repo
from rosterd.repositories.idle_sweeps import BY_CREATION_DATE, EXCLUDE, INCLUDE
from rosterd.services import audit, offboarding
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Forbidden, NotFound, invalid_field

NEVER_SIGNED_IN = (BY_CREATION_DATE, INCLUDE, EXCLUDE)
DEACTIVATE = "deactivate"
OFFBOARD = "offboard"
ACTIONS = (DEACTIVATE, OFFBOARD)
PLANNED, HELD, APPLIED = "planned", "held", "applied"
MAX_INACTIVE_DAYS = 36_500
# Users locked and acted on per round of an apply.
CHUNK = 500


@dataclass(frozen=True)
class SweepRequest:
    inactive_days: int
    never_signed_in: str = BY_CREATION_DATE
    action: str = DEACTIVATE
    # Only plan (the default); False applies at once unless the guard holds the plan.
    dry_run: bool = True


def _check(request: SweepRequest) -> None:
    if not 1 <= request.inactive_days <= MAX_INACTIVE_DAYS:
        raise invalid_field("inactiveDays", f"use 1 to {MAX_INACTIVE_DAYS} days")
    if request.never_signed_in not in NEVER_SIGNED_IN:
        raise invalid_field("neverSignedIn", f"use one of {', '.join(NEVER_SIGNED_IN)}")
    if request.action not in ACTIONS:
        raise invalid_field("action", f"use one of {', '.join(ACTIONS)}")


def plan(
    session: Session, actor: Actor, request: SweepRequest, now: datetime | None = None
) -> IdleSweep:
    """Make the plan (and apply it at once when not a dry run and not held)."""
    _check(request)
    now = now or utcnow()
    percent, most = tenants_service.idle_sweep_guard(session, actor.tenant_id)
    sweep = sweeps_repo.add(
        session,
        IdleSweep(
            tenant_id=actor.tenant_id,
            state=PLANNED,
            inactive_days=request.inactive_days,
            never_signed_in=request.never_signed_in,
            action=request.action,
            cutoff=now - timedelta(days=request.inactive_days),
            user_count=0,
            active_users=user_tallies.total(session, actor.tenant_id, [UserStatus.active]),
            guard_percent=percent,
            guard_users=most,
            held=False,
            created_by=actor.actor,
            created_at=now,
        ),
    )
    sweep.user_count = sweeps_repo.plan_users(session, sweep)
    sweep.held = _above_guard(sweep)
    sweep.state = HELD if sweep.held else PLANNED
    session.flush()
    audit.record(
        session,
        actor,
        "idle_sweep.planned",
        "idle_sweep",
        sweep.id,
        after={
            "inactive_days": sweep.inactive_days,
            "never_signed_in": sweep.never_signed_in,
            "action": sweep.action,
            "cutoff": audit.jsonable(sweep.cutoff),
            "users": sweep.user_count,
            "held": sweep.held,
        },
    )
    if not request.dry_run and not sweep.held:
        _apply_locked(session, actor, sweep, now)
    return sweep


def _above_guard(sweep: IdleSweep) -> bool:
    return (
        sweep.user_count > sweep.guard_users
        or sweep.user_count * 100 > sweep.guard_percent * sweep.active_users
    )


def get(session: Session, actor: Actor, sweep_id: uuid.UUID) -> IdleSweep:
    sweep = sweeps_repo.get(session, actor.tenant_id, sweep_id)
    if sweep is None:
        raise NotFound(f"idle sweep {sweep_id} not found")
    return sweep


def recent(session: Session, actor: Actor, limit: int) -> list[IdleSweep]:
    """The tenant's latest plans, newest first."""
    return sweeps_repo.recent(session, actor.tenant_id, limit)


def apply(
    session: Session,
    actor: Actor,
    sweep_id: uuid.UUID,
    *,
    confirm: bool = False,
    now: datetime | None = None,
) -> IdleSweep:
    """Apply the plan. A held plan needs ``confirm`` from a client with ``admin``; a plan
    applied already is answered as it is, nothing done again."""
    sweep = sweeps_repo.get(session, actor.tenant_id, sweep_id, for_update=True)
    if sweep is None:
        raise NotFound(f"idle sweep {sweep_id} not found")
    if sweep.state == APPLIED:
        return sweep
    if sweep.state == HELD:
        if not confirm:
            raise Conflict(
                f"idle sweep {sweep_id} is held: it touches {sweep.user_count} users, above "
                "the tenant's guard; apply it with confirm: true (admin scope)",
                code="held",
            )
        if not grants(actor.scopes, Scope.admin):
            raise Forbidden(
                "only a client with the admin scope can confirm a held idle sweep",
                code="insufficient_scope",
            )
    _apply_locked(session, actor, sweep, now or utcnow())
    return sweep


def _skip_reason(sweep: IdleSweep, user: User | None) -> str | None:
    """Why a planned user no longer matches, or None if it does."""
    if user is None:
        return "deleted"
    if user.status != UserStatus.active:
        return "not_active"
    if user.last_login_at is not None and user.last_login_at >= sweep.cutoff:
        return "signed_in"
    return None


def _apply_locked(session: Session, actor: Actor, sweep: IdleSweep, now: datetime) -> None:
    # Every planned user is locked (in id order) before any is acted on: acting takes group
    # and team locks, and a writer holding one of the plan's users while it waits for such a
    # lock (set_user_groups) would otherwise deadlock with the next round's user locks.
    _lock_planned_users(session, actor, sweep)
    after: uuid.UUID | None = None
    while rows := sweeps_repo.chunk(session, sweep.id, after, CHUNK):
        users = {u.id: u for u in users_repo.lock_many(session, actor.tenant_id, _ids(rows))}
        for row in rows:
            _act(session, actor, sweep, row, users.get(row.user_id), now)
        session.flush()
        after = rows[-1].user_id
        # A plan of many users is not kept in memory whole.
        for done in [*rows, *users.values()]:
            session.expunge(done)
    sweep.state = APPLIED
    sweep.applied_by = actor.actor
    sweep.applied_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "idle_sweep.applied",
        "idle_sweep",
        sweep.id,
        after={"outcomes": result_of(session, sweep)},
    )


def _lock_planned_users(session: Session, actor: Actor, sweep: IdleSweep) -> None:
    after: uuid.UUID | None = None
    while rows := sweeps_repo.chunk(session, sweep.id, after, CHUNK):
        locked = users_repo.lock_many(session, actor.tenant_id, _ids(rows))
        after = rows[-1].user_id
        for done in [*rows, *locked]:
            session.expunge(done)


def _ids(rows: list[IdleSweepUser]) -> list[uuid.UUID]:
    return [row.user_id for row in rows]


def _act(
    session: Session,
    actor: Actor,
    sweep: IdleSweep,
    row: IdleSweepUser,
    user: User | None,
    now: datetime,
) -> None:
    row.acted_at = now
    reason = _skip_reason(sweep, user)
    if user is None or reason is not None:
        row.outcome, row.skip_reason = "skipped", reason
        return
    if sweep.action == OFFBOARD:
        offboarding.offboard_locked(session, actor, user, offboarding.OffboardOptions(), now)
        row.outcome = "offboarded"
    else:
        offboarding.deactivate_locked(session, actor, user)
        row.outcome = "deactivated"


def result_of(session: Session, sweep: IdleSweep) -> dict[str, int]:
    """How many planned users each outcome had (``skipped:<reason>`` for skips)."""
    return {
        (f"{outcome}:{reason}" if reason else outcome): n
        for (outcome, reason), n in sorted(sweeps_repo.outcomes(session, sweep.id).items(), key=str)
    }


def users_page(
    session: Session, actor: Actor, sweep_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> tuple[IdleSweep, list[tuple[IdleSweepUser, str | None, str | None]]]:
    """The sweep and a keyset page of its users (with their username and email)."""
    sweep = get(session, actor, sweep_id)
    return sweep, sweeps_repo.page(session, sweep.id, after, limit)
