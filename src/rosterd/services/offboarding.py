"""Offboarding in one call: deactivate, remove memberships, hand over teams, end sessions.

All of it happens in the caller's transaction, each change with its own audit row (so the
event feed sees ``user.deactivated``, one ``group.member_removed`` per group,
``team.updated`` per team handed over and ``admin.sessions_ended``). What is already done is
not done again, so offboarding twice is harmless: the second call reports nothing done.

/api/v1 sessions are those of the tenant's admin account (rosterd.models.AdminUser) whose
username is the user's username or email: /api/v1 logins are admin logins. Ending them bumps
the account's ``token_epoch``, which every /api/v1 token carries, so its tokens are refused
from the commit on. The account itself stays (``rosterd admins`` manages it).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.models import Group, Team, User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import admins as admins_repo
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import teams as teams_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound, invalid_field


@dataclass(frozen=True)
class OffboardOptions:
    # Who takes over the teams the user manages; None leaves them as they are.
    reassign_to: uuid.UUID | None = None
    # Keep every group membership, or those of these groups.
    keep_groups: bool = False
    keep_group_ids: frozenset[uuid.UUID] = frozenset()


@dataclass
class Offboarded:
    """What one offboarding did."""

    user: User
    deactivated: bool = False
    groups_removed: list[Group] = field(default_factory=list)
    groups_kept: list[Group] = field(default_factory=list)
    teams_reassigned: list[Team] = field(default_factory=list)
    sessions_ended: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.deactivated or self.groups_removed or self.teams_reassigned or self.sessions_ended
        )


def offboard(
    session: Session, actor: Actor, user_id: uuid.UUID, options: OffboardOptions
) -> Offboarded:
    """Offboard the user (locked first, as every writer of a user does)."""
    user = users_service.lock_user(session, actor, user_id)
    if options.reassign_to is not None:
        if options.reassign_to == user_id:
            raise invalid_field("reassignTo", "cannot reassign to the user being offboarded")
        if users_repo.get(session, actor.tenant_id, options.reassign_to) is None:
            raise invalid_field("reassignTo", f"user {options.reassign_to} does not exist")
    return offboard_locked(session, actor, user, options, utcnow())


def offboard_many(
    session: Session, actor: Actor, user_ids: Collection[uuid.UUID]
) -> list[Offboarded]:
    """Offboard several users in one transaction (the console's bulk action), each as
    ``offboard`` does with the default options.

    Every lock is taken before anything changes, each kind in one id-ordered statement:
    the users, then every group any of them is in. Offboarding one user after another
    instead interleaves user and group locks (user A, A's groups, user B, B's groups), and
    two such transactions over users who share groups deadlock on PostgreSQL.
    """
    wanted = sorted(set(user_ids))
    users = users_repo.lock_many(session, actor.tenant_id, wanted)
    missing = set(wanted) - {u.id for u in users}
    if missing:
        raise NotFound(f"user {min(missing)} not found")
    joined = groups_repo.groups_of_many(session, actor.tenant_id, wanted)
    groups_repo.lock(session, actor.tenant_id, sorted({g for gs in joined.values() for g, _ in gs}))
    now = utcnow()
    return [offboard_locked(session, actor, user, OffboardOptions(), now) for user in users]


def offboard_locked(
    session: Session, actor: Actor, user: User, options: OffboardOptions, now: datetime
) -> Offboarded:
    """Offboard ``user``, which the caller locked and whose ``reassign_to`` it checked."""
    done = Offboarded(user=user, deactivated=deactivate_locked(session, actor, user))
    if options.reassign_to is not None:
        done.teams_reassigned = _hand_over_teams(session, actor, user, options.reassign_to)
    keep: Collection[uuid.UUID] | None = None if options.keep_groups else options.keep_group_ids
    done.groups_removed, done.groups_kept = _leave_groups(session, actor, user, keep)
    done.sessions_ended = _end_sessions(session, actor, user, now)
    return done


def deactivate_locked(session: Session, actor: Actor, user: User) -> bool:
    """Make the locked ``user`` inactive; False when it already was."""
    if user.status == UserStatus.inactive:
        return False
    before = audit.snapshot(user)
    users_repo.update_row(session, user, {"status": UserStatus.inactive})
    audit.record(
        session,
        actor,
        "user.deactivated",
        "user",
        user.id,
        before=before,
        after=audit.snapshot(user),
    )
    return True


def _hand_over_teams(
    session: Session, actor: Actor, user: User, successor: uuid.UUID
) -> list[Team]:
    teams = teams_repo.managed_by(session, actor.tenant_id, user.id)
    for team in teams:
        before = audit.snapshot(team)
        team.manager_id = successor
        session.flush()
        audit.record(
            session,
            actor,
            "team.updated",
            "team",
            team.id,
            before=before,
            after=audit.snapshot(team),
        )
    return teams


def _leave_groups(
    session: Session, actor: Actor, user: User, keep: Collection[uuid.UUID] | None
) -> tuple[list[Group], list[Group]]:
    """Remove the user from its groups but those in ``keep`` (None keeps all); the groups
    left and the groups kept.

    The groups are locked in id order before their memberships go, as every writer of
    several groups does (after the user, as set_user_groups), so no writer deadlocks on them.
    """
    current = groups_repo.groups_of(session, actor.tenant_id, user.id)
    if keep is None:
        return [], current
    leaving = [g for g in current if g.id not in keep]
    kept = [g for g in current if g.id in keep]
    if not leaving:
        return [], kept
    ids = sorted(g.id for g in leaving)
    groups_repo.lock(session, actor.tenant_id, ids)
    removed: list[Group] = []
    for group in leaving:
        if groups_repo.remove_members(session, actor.tenant_id, group.id, [user.id]):
            removed.append(group)
            audit.record(
                session,
                actor,
                "group.member_removed",
                "group",
                group.id,
                before={"user_id": str(user.id)},
            )
    groups_repo.touch(session, actor.tenant_id, sorted(g.id for g in removed))
    return removed, kept


def _end_sessions(session: Session, actor: Actor, user: User, now: datetime) -> int:
    """End the /api/v1 sessions of the user's admin account; how many accounts had any.

    An account with no login since its sessions were last ended has nothing to end.
    """
    names = [name for name in (user.username, user.email) if name]
    ended = 0
    for admin in admins_repo.named_in_tenant(session, actor.tenant_id, names):
        last_login = admin.last_login_at
        if last_login is None or (
            admin.sessions_ended_at is not None and last_login <= admin.sessions_ended_at
        ):
            continue
        admin.token_epoch += 1
        admin.sessions_ended_at = now
        ended += 1
        audit.record(
            session,
            actor,
            "admin.sessions_ended",
            "admin",
            admin.id,
            after={"username": admin.username, "user_id": str(user.id)},
        )
    return ended
