"""What the command line prints and how it ends: the consoles (data on stdout, messages and
progress on stderr), tables and JSON, and the one table of exit codes scripts branch on.

Exit codes (also in ``rosterd --help`` and the README)::

    0  ok
    1  error (anything not below, a server error included)
    2  usage: a bad option or argument
    3  auth: no profile or secret, credentials refused (401) or scope missing (403)
    4  not found (404)
    5  conflict: already there (409), or changed since it was read (412)
    6  rate limited (429 after every retry)
    7  validation: the server refused the input (400, 422); nothing was written
    8  unreachable: no answer from the server (connection refused, timeout)
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from rosterd.client import errors


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    RATE_LIMITED = 6
    VALIDATION = 7
    UNREACHABLE = 8


EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 error, 2 usage, 3 auth (not logged in, refused, missing scope), "
    "4 not found, 5 conflict (exists, or changed meanwhile), 6 rate limited, "
    "7 validation (refused input), 8 server unreachable."
)

# The SDK's errors, most specific first (ValidationError is a BadRequest).
_EXIT_BY_ERROR: tuple[tuple[type[errors.RosterdError], ExitCode], ...] = (
    (errors.AuthError, ExitCode.AUTH),
    (errors.PermissionDenied, ExitCode.AUTH),
    (errors.NotFound, ExitCode.NOT_FOUND),
    (errors.Conflict, ExitCode.CONFLICT),
    (errors.PreconditionFailed, ExitCode.CONFLICT),
    (errors.RateLimited, ExitCode.RATE_LIMITED),
    (errors.BadRequest, ExitCode.VALIDATION),
    (errors.TransportError, ExitCode.UNREACHABLE),
)


def exit_code_of(exc: errors.RosterdError) -> ExitCode:
    """The exit code that stands for an SDK error."""
    for kind, code in _EXIT_BY_ERROR:
        if isinstance(exc, kind):
            return code
    return ExitCode.ERROR


AsJson = Annotated[
    bool,
    typer.Option(
        "--json", help='Print JSON for scripts: the object, or {"items": [...]} for a listing.'
    ),
]
Limit = Annotated[
    int | None, typer.Option(min=1, help="Show at most this many.", show_default=False)
]

# soft_wrap: messages carry paths, URLs and secrets; Rich must not break them with newlines
# when writing to a pipe or log (the terminal itself still wraps long lines for display).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def failure(message: str, code: ExitCode = ExitCode.ERROR) -> typer.Exit:
    """Say what went wrong on stderr; what to raise to end the command with ``code``."""
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    """Say what went wrong on stderr and end the command with ``code``."""
    raise failure(message, code)


def _describe(exc: errors.RosterdError) -> str:
    if isinstance(exc, errors.TransportError):
        return f"no answer from the server: {exc}"  # the request and httpx's reason
    text = str(exc)
    if isinstance(exc, errors.ValidationError):
        text += "".join(f"\n  {field}: {message}" for field, message in exc.field_errors.items())
    if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
        text += f" (retry after {exc.retry_after:g}s)"
    return text


@contextmanager
def reporting() -> Iterator[None]:
    """Turn an SDK error raised in the block into a message on stderr and its exit code:
    no traceback for an error the command line understands."""
    try:
        yield
    except errors.RosterdError as exc:
        fail(_describe(exc), exit_code_of(exc))


def id_column(header: str) -> Column:
    """A column of identifiers people copy into other commands: never cut short or wrapped."""
    return Column(header, no_wrap=True)


def time_column(header: str) -> Column:
    """A column of timestamps: folded onto more lines when narrow, never cut short."""
    return Column(header, overflow="fold")


def plain(value: BaseModel) -> dict[str, Any]:
    """A model as the API writes it (camelCase keys), every field present."""
    return value.model_dump(mode="json", by_alias=True)


def print_json(value: Any) -> None:
    """One JSON document on stdout."""
    typer.echo(json.dumps(value, ensure_ascii=False))


def print_object(value: BaseModel) -> None:
    print_json(plain(value))


def print_items(values: Iterable[BaseModel]) -> None:
    """A listing for scripts: ``{"items": [...]}``, always that shape."""
    print_json({"items": [plain(v) for v in values]})


def table(*columns: str | Column, rows: Iterable[Sequence[str]]) -> None:
    shown = Table(*columns)
    for row in rows:
        shown.add_row(*row)
    out.print(shown)


class RateColumn(ProgressColumn):
    """Items a second, e.g. ``240/s``."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def progress() -> Progress:
    """A progress bar on stderr with count, rate and time left (the bar pulses while the total
    is unknown); nothing on stdout, which holds only data."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )
