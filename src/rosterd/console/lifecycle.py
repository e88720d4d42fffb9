"""Lifecycle, /admin/lifecycle: the idle-user sweep as plan → review → apply, and the users
whose access is scheduled to end.

A sweep is rosterd.services.idle_sweeps, the service behind the v2 API's
/lifecycle/idle-sweeps: planning writes the plan (and who is in it) without touching a user;
its page shows the counts and a keyset page of the planned users; applying acts on those
who still match. The admin confirms every apply; a plan the tenant's guard holds (too many
users at once) needs the guard overridden as well, and says so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Form, Query, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import RuntimeDep, SearchSession, in_unit_of_work
from rosterd.api.errors import status_for
from rosterd.api.v2.lifecycle_wire import after_cursor, cursor_of
from rosterd.console.pages import back_to, page, router
from rosterd.console.session import PREFIX, ConsoleAdmin, FormAdmin, SignedInAdmin
from rosterd.db.work import Kind
from rosterd.models import IdleSweep
from rosterd.repositories.idle_sweeps import BY_CREATION_DATE, EXCLUDE, INCLUDE
from rosterd.services import idle_sweeps
from rosterd.services import lifecycle as lifecycle_service
from rosterd.services.errors import DomainError, NotFound, invalid_field

PATH = f"{PREFIX}/lifecycle"
PAGE_SIZE = 50
RECENT_PLANS = 10
IDLE_DAYS = (30, 60, 90)
NEVER_SIGNED_IN = {
    BY_CREATION_DATE: "idle when created before the cutoff",
    INCLUDE: "always idle",
    EXCLUDE: "never idle",
}
ACTIONS = {
    idle_sweeps.DEACTIVATE: "deactivate",
    idle_sweeps.OFFBOARD: "offboard (deactivate, remove from every group, end sessions)",
}
Cursor = Annotated[str | None, Query(max_length=128)]
Choice = Annotated[str, Form(max_length=32)]


@dataclass(frozen=True)
class PlanForm:
    """The plan form as sent (shown back as it was when it is refused)."""

    inactive_days: str = str(IDLE_DAYS[-1])
    never_signed_in: str = BY_CREATION_DATE
    action: str = idle_sweeps.DEACTIVATE


def _lifecycle_page(
    request: Request,
    session: Session,
    admin: ConsoleAdmin,
    cursor: str | None,
    *,
    form: PlanForm,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    expiring = lifecycle_service.scheduled_expiries(session, admin.actor, cursor, PAGE_SIZE)
    return page(
        request,
        "lifecycle.html",
        admin,
        status_code=status_code,
        form=form,
        problem=problem,
        idle_days=IDLE_DAYS,
        never_signed_in=NEVER_SIGNED_IN,
        actions=ACTIONS,
        plans=idle_sweeps.recent(session, admin.actor, RECENT_PLANS),
        expiring=expiring.users,
        next_cursor=expiring.next_cursor,
        first_page=cursor is None,
    )


@router.get("/lifecycle")
def lifecycle_page(
    request: Request, admin: SignedInAdmin, session: SearchSession, cursor: Cursor = None
) -> Response:
    return _lifecycle_page(request, session, admin, cursor, form=PlanForm())


def _days(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise invalid_field("inactiveDays", "give a whole number of days") from None


@router.post("/lifecycle/sweeps")
async def plan_sweep(
    request: Request,
    admin: FormAdmin,
    runtime: RuntimeDep,
    inactive_days: Annotated[str, Form(max_length=16)] = "",
    never_signed_in: Choice = BY_CREATION_DATE,
    action: Choice = idle_sweeps.DEACTIVATE,
) -> Response:
    """Make a plan (a dry run: no user is touched) and show it for review."""
    form = PlanForm(inactive_days, never_signed_in, action)

    def make(session: Session) -> uuid.UUID:
        sweep = idle_sweeps.plan(
            session,
            admin.actor,
            idle_sweeps.SweepRequest(
                inactive_days=_days(inactive_days),
                never_signed_in=never_signed_in,
                action=action,
                dry_run=True,
            ),
        )
        return sweep.id

    try:
        sweep_id = await in_unit_of_work(runtime, Kind.WRITE, make)
    except DomainError as exc:
        refused = exc

        def again(session: Session) -> Response:
            return _lifecycle_page(
                request,
                session,
                admin,
                None,
                form=form,
                problem=str(refused),
                status_code=status_for(refused),
            )

        return await in_unit_of_work(runtime, Kind.SLOW_READ, again)
    return back_to(f"{PATH}/sweeps/{sweep_id}")


def _share(sweep: IdleSweep) -> float:
    """The plan's users as a percentage of the tenant's active users when it was made."""
    return 100 * sweep.user_count / sweep.active_users if sweep.active_users else 0.0


def _summary(session: Session, sweep: IdleSweep) -> dict[str, Any]:
    applied = sweep.state == idle_sweeps.APPLIED
    return {
        "sweep": sweep,
        "share": _share(sweep),
        "result": idle_sweeps.result_of(session, sweep) if applied else None,
        "never_signed_in": NEVER_SIGNED_IN,
        "actions": ACTIONS,
    }


@router.get("/lifecycle/sweeps/{sweep_id}")
def sweep_page(
    request: Request,
    sweep_id: uuid.UUID,
    admin: SignedInAdmin,
    session: SearchSession,
    cursor: Cursor = None,
) -> Response:
    sweep, rows = idle_sweeps.users_page(
        session, admin.actor, sweep_id, after_cursor(cursor), PAGE_SIZE + 1
    )
    shown = rows[:PAGE_SIZE]
    more = len(rows) > PAGE_SIZE
    return page(
        request,
        "sweep.html",
        admin,
        planned=shown,
        next_cursor=cursor_of(shown[-1][0].user_id) if more else None,
        first_page=cursor is None,
        **_summary(session, sweep),
    )


@router.post("/lifecycle/sweeps/{sweep_id}/apply")
async def apply_sweep(
    sweep_id: uuid.UUID,
    admin: FormAdmin,
    runtime: RuntimeDep,
    confirm: Annotated[bool, Form()] = False,
    override_guard: Annotated[bool, Form()] = False,
) -> Response:
    """Apply the plan: only when the admin ticked the confirmation; a held plan only when
    the guard is overridden as well (the service refuses it otherwise, and the page says
    why)."""
    path = f"{PATH}/sweeps/{sweep_id}"
    if not confirm:
        return back_to(path, error="Tick the confirmation to apply the plan; nothing was done.")

    def act(session: Session) -> dict[str, int]:
        sweep = idle_sweeps.apply(session, admin.actor, sweep_id, confirm=override_guard)
        return idle_sweeps.result_of(session, sweep)

    try:
        result = await in_unit_of_work(runtime, Kind.WRITE, act)
    except NotFound:
        raise
    except DomainError as exc:
        return back_to(path, error=f"Not applied: {_refusal(exc)}")
    done = ", ".join(f"{n} {outcome}" for outcome, n in result.items()) or "no users"
    return back_to(path, notice=f"Applied: {done}.")


def _refusal(exc: DomainError) -> str:
    """Why an apply was refused, in the console's words for the guard (the service's
    message speaks of the API's ``confirm``)."""
    if exc.code == "held":
        return (
            "the tenant's guard holds this plan, as it touches more users than the guard "
            "allows at once. Tick “Override the guard” as well to apply it."
        )
    return str(exc)
