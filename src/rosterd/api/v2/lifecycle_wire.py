"""Wire schemas of the v2 lifecycle extensions: offboarding, sign-ins and idle sweeps."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from rosterd.api.v2.schemas import RequestModel, WireModel, iso_timestamp
from rosterd.models import Group, IdleSweep, IdleSweepUser, Team
from rosterd.services.errors import invalid_field
from rosterd.services.idle_sweeps import MAX_INACTIVE_DAYS
from rosterd.services.offboarding import Offboarded

# ---- offboarding ---------------------------------------------------------------------------


class OffboardIn(RequestModel):
    reassignTo: uuid.UUID | None = Field(
        default=None, description="The user who takes over the teams the user manages."
    )
    keepGroups: bool = Field(default=False, description="Keep every group membership.")
    keepGroupIds: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=1000,
        description="Keep the memberships of these groups; the others are removed.",
    )


class Named(WireModel):
    id: str
    name: str

    @classmethod
    def of(cls, item: Group | Team) -> Named:
        return cls(id=str(item.id), name=item.name)


class OffboardOut(WireModel):
    userId: str
    status: str = Field(description="The user's status after the call: inactive.")
    changed: bool = Field(description="Whether this call changed anything (false when repeated).")
    deactivated: bool = Field(description="Whether this call deactivated the user.")
    groupsRemoved: list[Named]
    groupsKept: list[Named]
    teamsReassigned: list[Named]
    reassignedTo: str | None = None
    sessionsEnded: int = Field(
        description="/api/v1 login sessions ended: the user's admin account, if it had any."
    )

    @classmethod
    def of(cls, done: Offboarded, reassigned_to: uuid.UUID | None) -> OffboardOut:
        return cls(
            userId=str(done.user.id),
            status=done.user.status.value,
            changed=done.changed,
            deactivated=done.deactivated,
            groupsRemoved=[Named.of(g) for g in done.groups_removed],
            groupsKept=[Named.of(g) for g in done.groups_kept],
            teamsReassigned=[Named.of(t) for t in done.teams_reassigned],
            reassignedTo=str(reassigned_to) if done.teams_reassigned and reassigned_to else None,
            sessionsEnded=done.sessions_ended,
        )


# ---- sign-ins ------------------------------------------------------------------------------


class SignInIn(RequestModel):
    at: AwareDatetime | None = Field(
        default=None,
        description="When the user signed in (RFC 3339, with an offset), for backfills; now "
        "when omitted. A time in the future is refused; one before the stored last sign-in "
        "leaves it as it is.",
    )


# ---- idle sweeps ---------------------------------------------------------------------------


class IdleSweepIn(RequestModel):
    inactiveDays: int = Field(
        ge=1, le=MAX_INACTIVE_DAYS, description="Idle: no sign-in for this many days."
    )
    neverSignedIn: Literal["byCreationDate", "include", "exclude"] = Field(
        default="byCreationDate",
        description="Users who never signed in: idle when created more than inactiveDays ago "
        "(byCreationDate), always idle (include) or never (exclude).",
    )
    action: Literal["deactivate", "offboard"] = Field(
        default="deactivate",
        description="What applying does to each user: deactivate, or offboard (deactivate, "
        "remove every group membership, end /api/v1 sessions).",
    )
    dryRun: bool = Field(
        default=True,
        description="Only plan (the default). false applies the plan at once unless the guard "
        "holds it.",
    )


class ApplyIn(RequestModel):
    confirm: bool = Field(
        default=False,
        description="Apply a held plan; only a client with the admin scope may confirm.",
    )


class Guard(WireModel):
    percentOfActiveUsers: float
    users: int


class IdleSweepOut(WireModel):
    id: str
    state: Literal["planned", "held", "applied"] = Field(
        description="planned: waiting for apply; held: above the tenant's guard, applies only "
        "when an admin client confirms; applied."
    )
    held: bool = Field(description="Whether the guard held the plan (stays true once applied).")
    inactiveDays: int
    neverSignedIn: str
    action: str
    cutoff: str = Field(description="Idle means no sign-in since this time.")
    userCount: int = Field(description="How many users the plan holds.")
    activeUsers: int = Field(description="The tenant's active users when the plan was made.")
    guard: Guard
    createdAt: str
    createdBy: str
    appliedAt: str | None = None
    appliedBy: str | None = None
    result: dict[str, int] | None = Field(
        default=None,
        description="Once applied: users per outcome (deactivated, offboarded, and "
        "skipped:<reason> for skipped:signed_in, skipped:not_active, skipped:deleted).",
    )

    @classmethod
    def of(cls, sweep: IdleSweep, result: dict[str, int] | None) -> IdleSweepOut:
        return cls(
            id=str(sweep.id),
            state=sweep.state,
            held=sweep.held,
            inactiveDays=sweep.inactive_days,
            neverSignedIn=sweep.never_signed_in,
            action=sweep.action,
            cutoff=iso_timestamp(sweep.cutoff) or "",
            userCount=sweep.user_count,
            activeUsers=sweep.active_users,
            guard=Guard(percentOfActiveUsers=sweep.guard_percent, users=sweep.guard_users),
            createdAt=iso_timestamp(sweep.created_at) or "",
            createdBy=sweep.created_by,
            appliedAt=iso_timestamp(sweep.applied_at),
            appliedBy=sweep.applied_by,
            result=result,
        )


class PlannedUserOut(WireModel):
    userId: str
    username: str | None = Field(default=None, description="None: deleted since the plan.")
    email: str | None = None
    reason: Literal["lastSignIn", "neverSignedIn"] = Field(
        description="lastSignIn: last signed in before the cutoff; neverSignedIn: never signed "
        "in (and, by byCreationDate, created before the cutoff)."
    )
    lastLoginAt: str | None = Field(default=None, description="As the plan saw it.")
    createdAt: str
    outcome: Literal["deactivated", "offboarded", "skipped"] | None = Field(
        default=None, description="Once applied."
    )
    skipReason: Literal["signed_in", "not_active", "deleted"] | None = None

    @classmethod
    def of(cls, row: IdleSweepUser, username: str | None, email: str | None) -> PlannedUserOut:
        return cls(
            userId=str(row.user_id),
            username=username,
            email=email,
            reason="lastSignIn" if row.last_login_at is not None else "neverSignedIn",
            lastLoginAt=iso_timestamp(row.last_login_at),
            createdAt=iso_timestamp(row.user_created_at) or "",
            outcome=row.outcome,
            skipReason=row.skip_reason,
        )


class PlannedUserPage(BaseModel):
    items: list[PlannedUserOut]
    nextCursor: str | None = Field(
        default=None, description="Pass as cursor for the next page; absent on the last."
    )


def cursor_of(user_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(user_id.bytes).decode().rstrip("=")


def after_cursor(cursor: str | None) -> uuid.UUID | None:
    """The user id a cursor continues after; a cursor this API did not give is a 400."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise invalid_field("cursor", "not a cursor this API gave") from exc
