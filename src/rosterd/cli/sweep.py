"""``rosterd sweep idle``: plan a sweep of idle users, show it, then apply it."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from rosterd.cli import output, remote
from rosterd.cli.output import AsJson, id_column, time_column
from rosterd.cli.values import when
from rosterd.client import IdleSweep, PlannedUser

sweep_app = typer.Typer(
    help="Lifecycle sweeps on the server (remote: uses the login profile).", no_args_is_help=True
)


def _show(sweep: IdleSweep, planned: list[PlannedUser], as_json: bool) -> None:
    if as_json:
        output.print_json(
            {"sweep": output.plain(sweep), "items": [output.plain(p) for p in planned]}
        )
        return
    output.table(
        id_column("user id"),
        "email",
        "username",
        time_column("last login"),
        "reason",
        "outcome",
        rows=(
            (
                p.user_id,
                p.email or "",
                p.username or "",
                when(p.last_login_at, "never"),
                p.reason,
                p.outcome or p.skip_reason or "",
            )
            for p in planned
        ),
    )
    output.err.print(
        f"sweep {sweep.id}: {sweep.state}, {sweep.user_count} of {sweep.active_users} active "
        f"users idle since {when(sweep.cutoff)} ({sweep.action})"
        + (f"; result {sweep.result}" if sweep.result else "")
    )


@sweep_app.command("idle")
def sweep_idle(
    days: Annotated[int, typer.Option(min=1, help="Idle: no sign-in for this many days.")] = 90,
    never_signed_in: Annotated[
        Literal["byCreationDate", "include", "exclude"],
        typer.Option(
            help="Users who never signed in: idle by their creation date, always, or never."
        ),
    ] = "byCreationDate",
    action: Annotated[
        Literal["deactivate", "offboard"], typer.Option(help="What happens to each idle user.")
    ] = "deactivate",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    as_json: AsJson = False,
) -> None:
    """Plan a sweep of active users idle for --days and show them; then, unless --dry-run,
    apply it once you confirm (or at once with --yes). A plan the tenant's guard holds (too
    many users) is confirmed by applying it, which needs an admin client."""
    with remote.connect() as client:
        sweeps = client.lifecycle.idle_sweeps
        plan = sweeps.plan(
            inactive_days=days, never_signed_in=never_signed_in, action=action, dry_run=True
        )
        planned = list(sweeps.users(plan.id))
        if dry_run or plan.user_count == 0:
            _show(plan, planned, as_json)
            return
        if not as_json:
            _show(plan, planned, as_json=False)
        if plan.held:
            output.err.print(
                f"[yellow]The tenant's guard holds this sweep[/yellow] (more than "
                f"{plan.guard.percent_of_active_users:g}% or {plan.guard.users} users)."
            )
        if not yes:
            typer.confirm(
                f"{action.capitalize()} these {plan.user_count} users?", abort=True, err=True
            )
        done = sweeps.apply(plan.id, confirm=plan.held)
        _show(done, list(sweeps.users(done.id)), as_json)
