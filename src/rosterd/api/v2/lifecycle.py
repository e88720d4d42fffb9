"""Lifecycle extensions of /integration/v2: offboarding, sign-ins and idle sweeps.

Scopes: offboarding and idle sweeps take ``lifecycle:write`` (implied by ``admin``).
Offboarding is more than a user write (it removes group memberships and ends /api/v1
sessions), so ``user:write`` alone does not allow it; one scope grants the whole lifecycle
to the automation that runs it. Recording a sign-in sets a user field: ``user:write``.
Reading a plan takes ``user:read``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Body, Query, status
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, SearchSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import LifecycleWrite, UserRead, UserWrite
from rosterd.api.v2.lifecycle_wire import (
    ApplyIn,
    IdleSweepIn,
    IdleSweepOut,
    OffboardIn,
    OffboardOut,
    PlannedUserOut,
    PlannedUserPage,
    SignInIn,
    after_cursor,
    cursor_of,
)
from rosterd.api.v2.paging import errors
from rosterd.api.v2.schemas import UserOut
from rosterd.models import IdleSweep
from rosterd.services import idle_sweeps, offboarding, sign_ins

router = api_router(tags=["Lifecycle"])

MAX_PAGE = 1000


@router.post(
    "/users/{userId}/offboard",
    operation_id="offboardUser",
    summary="Offboard a User (extension)",
    description="In one transaction: deactivates the user, removes every group membership "
    "(but those kept by `keepGroups` / `keepGroupIds`), hands the teams the user manages to "
    "`reassignTo`, and ends the user's /api/v1 sessions (those of the tenant's admin account "
    "whose username is the user's username or email). Each change is audited. Calling it "
    "again is harmless: it answers the same shape with `changed: false`. The body is "
    "optional. Scope `lifecycle:write`.",
    response_model=OffboardOut,
    responses=errors(400, 401, 403, 404),
)
def offboard_user(
    userId: uuid.UUID,  # noqa: N803
    actor: LifecycleWrite,
    session: WriteSession,
    body: Annotated[OffboardIn | None, Body()] = None,
) -> OffboardOut:
    sent = body or OffboardIn()
    done = offboarding.offboard(
        session,
        actor,
        userId,
        offboarding.OffboardOptions(
            reassign_to=sent.reassignTo,
            keep_groups=sent.keepGroups,
            keep_group_ids=frozenset(sent.keepGroupIds),
        ),
    )
    return OffboardOut.of(done, sent.reassignTo)


@router.post(
    "/users/{userId}/sign-ins",
    operation_id="recordSignIn",
    summary="Record a Sign-in (extension)",
    description="Sets the user's `lastLoginAt` (also /api/v1 `lastLogin` and ADMIN "
    "`lastLoginDate`) to `at`, now by default, unless a later sign-in is stored: a backfill "
    "never moves it back. `at` must carry an offset and not be in the future (400). The "
    "user's version and modification time do not change. A pending user cannot sign in "
    "before its `validFrom`: a sign-in at a time before it answers 422. Scope `user:write`.",
    response_model=UserOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 422),
)
def record_sign_in(
    userId: uuid.UUID,  # noqa: N803
    actor: UserWrite,
    session: WriteSession,
    body: Annotated[SignInIn | None, Body()] = None,
) -> UserOut:
    at = body.at if body is not None else None
    return UserOut.of(sign_ins.record_sign_in(session, actor, userId, at))


@router.post(
    "/lifecycle/idle-sweeps",
    operation_id="planIdleSweep",
    summary="Plan an Idle Sweep (extension)",
    description="Plans a sweep of the tenant's active users with no sign-in for "
    "`inactiveDays`: the answer says how many, and `GET .../idle-sweeps/{id}/users` who and "
    "why. A plan touching more than the tenant's guard (by default more than 10% of its "
    "active users or more than 500 users; `rosterd tenants configure --idle-sweep-guard-*`) "
    "is `held`. With `dryRun: false` a plan that is not held is applied at once. "
    "Scope `lifecycle:write`.",
    status_code=status.HTTP_201_CREATED,
    response_model=IdleSweepOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def plan_idle_sweep(
    body: IdleSweepIn, actor: LifecycleWrite, session: WriteSession
) -> IdleSweepOut:
    sweep = idle_sweeps.plan(
        session,
        actor,
        idle_sweeps.SweepRequest(
            inactive_days=body.inactiveDays,
            never_signed_in=body.neverSignedIn,
            action=body.action,
            dry_run=body.dryRun,
        ),
    )
    return _out(session, sweep)


@router.get(
    "/lifecycle/idle-sweeps/{sweepId}",
    operation_id="getIdleSweep",
    summary="Get an Idle Sweep (extension)",
    description="The plan's state, and once applied its outcome per kind. Scope `user:read`.",
    response_model=IdleSweepOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def get_idle_sweep(
    sweepId: uuid.UUID,  # noqa: N803
    actor: UserRead,
    session: ReadSession,
) -> IdleSweepOut:
    return _out(session, idle_sweeps.get(session, actor, sweepId))


@router.get(
    "/lifecycle/idle-sweeps/{sweepId}/users",
    operation_id="listIdleSweepUsers",
    summary="List the Users of an Idle Sweep (extension)",
    description="The planned users in a stable order, with why each matched and, once "
    "applied, what happened to it. Keyset-paged: pass `nextCursor` as `cursor`. "
    "Scope `user:read`.",
    response_model=PlannedUserPage,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def list_idle_sweep_users(
    sweepId: uuid.UUID,  # noqa: N803
    actor: UserRead,
    session: SearchSession,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> PlannedUserPage:
    _, rows = idle_sweeps.users_page(session, actor, sweepId, after_cursor(cursor), limit + 1)
    shown = rows[:limit]
    return PlannedUserPage(
        items=[PlannedUserOut.of(*row) for row in shown],
        nextCursor=cursor_of(shown[-1][0].user_id) if len(rows) > limit else None,
    )


@router.post(
    "/lifecycle/idle-sweeps/{sweepId}/apply",
    operation_id="applyIdleSweep",
    summary="Apply an Idle Sweep (extension)",
    description="Acts on exactly the planned users that still match, each checked again "
    "under lock: a user who signed in since, is no longer active or was deleted is skipped, "
    "and the outcome is recorded per user. A held plan answers 409 unless `confirm: true` is "
    "sent by a client with the `admin` scope (403 otherwise). A plan applied already is "
    "answered as it is, nothing done again (concurrent applies act on each user once). "
    "Scope `lifecycle:write`.",
    response_model=IdleSweepOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 409),
)
def apply_idle_sweep(
    sweepId: uuid.UUID,  # noqa: N803
    actor: LifecycleWrite,
    session: WriteSession,
    body: Annotated[ApplyIn | None, Body()] = None,
) -> IdleSweepOut:
    confirm = body.confirm if body is not None else False
    return _out(session, idle_sweeps.apply(session, actor, sweepId, confirm=confirm))


def _out(session: Session, sweep: IdleSweep) -> IdleSweepOut:
    result = idle_sweeps.result_of(session, sweep) if sweep.state == idle_sweeps.APPLIED else None
    return IdleSweepOut.of(sweep, result)
