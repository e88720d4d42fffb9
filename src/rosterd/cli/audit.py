"""``rosterd audit``: the tenant's audit log, newest first, with filters."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Annotated

import typer

from rosterd.cli import output, remote
from rosterd.cli.output import AsJson, id_column, time_column
from rosterd.cli.values import parse_instant, when

Instant = Annotated[
    datetime | None,
    typer.Option(parser=parse_instant, metavar="ISO-8601", show_default=False),
]
Filter = Annotated[str | None, typer.Option(show_default=False)]


def audit(
    resource_type: Annotated[
        str | None, typer.Option(help="e.g. user, group, team, role.", show_default=False)
    ] = None,
    resource_id: Filter = None,
    actor: Annotated[
        str | None, typer.Option(help="Who made the change, e.g. a client id.", show_default=False)
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="e.g. user.created, group.member_added.", show_default=False)
    ] = None,
    since: Instant = None,
    until: Instant = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many (newest first).")] = 100,
    as_json: AsJson = False,
) -> None:
    """Show the audit log (remote: uses the login profile), newest first."""
    with remote.connect() as client:
        found = client.audit.list(
            resource_type=resource_type,
            resource_id=resource_id,
            actor=actor,
            action=action,
            since=since,
            until=until,
            page_size=min(limit, 100),
        )
        events = list(itertools.islice(found, limit))
        if as_json:
            output.print_items(events)
            return
        output.table(
            time_column("when"),
            id_column("actor"),
            "surface",
            "action",
            "resource",
            id_column("resource id"),
            rows=(
                (
                    when(e.occurred_at),
                    e.actor,
                    e.surface,
                    e.action,
                    e.resource_type,
                    e.resource_id,
                )
                for e in events
            ),
        )
