"""Options the credential commands share: tenant, expiry, scopes, --json."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Annotated

import typer

from rosterd.cli import output
from rosterd.cli.values import parse_duration, parse_instant
from rosterd.models.base import utcnow


def parse_scopes(values: list[str]) -> list[str]:
    return [s for v in values for s in re.split(r"[,\s]+", v) if s]


ExpiresIn = Annotated[
    timedelta | None,
    typer.Option(
        parser=parse_duration,
        metavar="DURATION",
        help="Stop working after this long, e.g. 90d, 12h, 1w.",
        show_default=False,
    ),
]
ExpiresAt = Annotated[
    datetime | None,
    typer.Option(
        parser=parse_instant,
        metavar="ISO-8601",
        help="Stop working at this time, e.g. 2030-01-31T00:00:00Z.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Tenant = Annotated[str, typer.Option(help="Tenant slug.")]


def expiry_of(expires_in: timedelta | None, expires_at: datetime | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    return utcnow() + expires_in if expires_in is not None else expires_at


def parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        output.err.print(f"[red]error:[/red] {value!r} is not an id")
        raise typer.Exit(1) from exc
