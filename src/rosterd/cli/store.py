"""The local store the server-administration commands (and a local import) work on.

The store is the one ``--data-dir`` / ``--database-url`` name (given anywhere on the command
line), else ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL or ./.env. Only ``serve`` and
``migrate`` create a store; the other commands refuse where there is none and say which store
they looked for, so a command run from the wrong directory cannot start a second, empty store
whose credentials the server would not know.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from rosterd.cli.output import err
from rosterd.config import Settings, get_settings
from rosterd.runtime import NoStore, Runtime, open_runtime
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError

STORE_OPTIONS = ("--data-dir", "--database-url")
DATA_DIR_HELP = "The store's data directory (SQLite file, secret key); else ROSTERD_DATA_DIR."
DATABASE_URL_HELP = (
    "The store's database URL, e.g. postgresql+psycopg://user@host/db; else ROSTERD_DATABASE_URL."
)
CLI_ACTOR = "cli"

# The settings of this invocation, built by the root callback before any command runs.
_invocation_settings: ContextVar[Settings | None] = ContextVar("settings", default=None)


def choose(data_dir: Path | None, database_url: str | None) -> None:
    """Make the store options of this invocation the settings its commands use."""
    given = {"data_dir": data_dir, "database_url": database_url}
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    _invocation_settings.set(Settings(**overrides) if overrides else get_settings())


def settings() -> Settings:
    """The settings every command uses: the environment's, with the store options over them."""
    return _invocation_settings.get() or get_settings()


def serve_at(host: str, port: int) -> Settings:
    """The settings ``serve`` runs with: where it listens is its public URL (token issuer,
    SCIM locations, the console's address) unless ROSTERD_PUBLIC_URL says otherwise, so
    ``rosterd serve --port 9000`` does not issue tokens naming port 8080."""
    current = settings()
    if "public_url" in current.model_fields_set:
        return current
    reachable = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 (compared)
    bracketed = f"[{reachable}]" if ":" in reachable else reachable
    chosen = current.model_copy(update={"public_url": f"http://{bracketed}:{port}"})
    _invocation_settings.set(chosen)
    return chosen


def _announce_bootstrap(runtime: Runtime) -> None:
    if runtime.bootstrap_credentials is not None:
        err.print(
            f"[bold]First start:[/bold] created tenant '{runtime.settings.default_tenant}', a "
            "bootstrap admin OAuth client and the admin console's first admin account "
            f"({runtime.settings.public_url.rstrip('/')}/admin/). Their credentials are in "
            f"[bold]{runtime.bootstrap_credentials}[/bold] (readable only by you); store them "
            "and delete the file."
        )


def open_store(*, create: bool) -> Runtime:
    """The runtime on the store the command names; only ``create=True`` may make one."""
    try:
        runtime = open_runtime(settings(), create=create)
    except NoStore as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    _announce_bootstrap(runtime)
    return runtime


@contextmanager
def runtime(*, create: bool = False) -> Iterator[Runtime]:
    """``open_store`` for the block, closed after it; a domain error ends the command with
    its message and exit code 1."""
    opened = open_store(create=create)
    try:
        yield opened
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        opened.close()


def cli_actor(tenant_id: uuid.UUID) -> Actor:
    """Who the audit log says made a change from the command line."""
    return Actor(tenant_id=tenant_id, actor=CLI_ACTOR, surface="cli")
