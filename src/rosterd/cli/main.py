"""The ``rosterd`` command: its root, which registers every command group.

Two kinds of command, kept apart:

- ``rosterd server …`` administers a local store (``serve``, ``migrate``, tenants and
  credentials) named by ``--data-dir`` / ``--database-url``; ``rosterd serve`` and
  ``rosterd migrate`` are the same as ``rosterd server serve|migrate``, and the old top-level
  groups (``rosterd clients …``) still work as hidden aliases of ``rosterd server clients …``.
- The remote commands talk to a running server over HTTP with the SDK (``rosterd.client``).

``rosterd import`` loads a file into a local store (``rosterd.cli.importing``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rosterd.cli import importing, store
from rosterd.cli.server import GROUPS, server_app
from rosterd.cli.server.serving import migrate, serve

# Options of the root that may also be given after the command's name.
_GLOBAL_OPTIONS = store.STORE_OPTIONS


def _global_options_first(args: list[str]) -> list[str]:
    """``args`` with the global options moved to the front, wherever they were given, so that
    ``rosterd clients list --data-dir /srv/rosterd`` means ``rosterd --data-dir /srv/rosterd
    clients list``. Nothing after ``--`` is touched."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in _GLOBAL_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 2
            continue
        (front if arg.split("=", 1)[0] in _GLOBAL_OPTIONS else rest).append(arg)
        i += 1
    return front + rest


class _GlobalOptionsAnywhere(TyperGroup):
    """The root group: takes the global options before or after the command's name."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _global_options_first(args))


app = typer.Typer(no_args_is_help=True, cls=_GlobalOptionsAnywhere)


@app.callback(
    epilog="--data-dir and --database-url may also follow the command, e.g. "
    "`rosterd server clients list --tenant acme --data-dir /srv/rosterd`."
)
def _root(
    data_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help=store.DATA_DIR_HELP, show_default=False)
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help=store.DATABASE_URL_HELP, show_default=False)
    ] = None,
) -> None:
    """rosterd: a self-hosted, multi-tenant user directory.

    `rosterd server …` administers a local store: the one --data-dir / --database-url
    name, else ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL (environment or ./.env). Only
    `serve` and `migrate` create a store where there is none.
    """
    store.choose(data_dir, database_url)


app.add_typer(server_app, name="server")
app.command(help="Same as `rosterd server serve`.")(serve)
app.command(help="Same as `rosterd server migrate`.")(migrate)
# The groups of `rosterd server` under their old top-level names, for scripts written before
# they moved; hidden from help.
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name, hidden=True)
app.command("import")(importing.import_directory)
