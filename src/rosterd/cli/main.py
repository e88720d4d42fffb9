"""The ``rosterd`` command: its root, which registers every command group.

Two kinds of command, kept apart:

- ``rosterd server …`` administers a local store (``serve``, ``migrate``, tenants and
  credentials) named by ``--data-dir`` / ``--database-url``; ``rosterd serve`` and
  ``rosterd migrate`` are the same as ``rosterd server serve|migrate``, and the old top-level
  groups (``rosterd clients …``) still work as hidden aliases of ``rosterd server clients …``.
- The remote commands (``login``, ``logout``, ``profiles``, ``users``, ``groups``, ``sweep``,
  ``audit``, ``export``) talk to a running server over HTTP with the SDK (``rosterd.client``),
  as the login profile chosen by ``--profile`` says.

``rosterd import`` loads a file into a local store (``rosterd.cli.importing``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from rosterd.cli import importing, remote, store
from rosterd.cli.audit import audit
from rosterd.cli.export import export
from rosterd.cli.groups import groups_app
from rosterd.cli.login import login, logout, profiles_app
from rosterd.cli.output import EXIT_CODES_HELP
from rosterd.cli.profiles import PROFILE_ENV
from rosterd.cli.server import GROUPS, server_app
from rosterd.cli.server.serving import migrate, serve
from rosterd.cli.sweep import sweep_app
from rosterd.cli.users import users_app

# Options of the root that may also be given after the command's name.
_GLOBAL_OPTIONS = (*store.STORE_OPTIONS, "--profile")


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
    epilog="--profile, --data-dir and --database-url may also follow the command, e.g. "
    "`rosterd users list --profile prod`. " + EXIT_CODES_HELP
)
def _root(
    data_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help=store.DATA_DIR_HELP, show_default=False)
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help=store.DATABASE_URL_HELP, show_default=False)
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(envvar=PROFILE_ENV, help=remote.PROFILE_HELP, show_default=False),
    ] = None,
) -> None:
    """rosterd: a self-hosted, multi-tenant user directory.

    Remote commands (login, users, groups, sweep, audit, export) talk to a server over HTTP.

    `rosterd login` stores a profile: server URL, tenant, OAuth client (see --profile).

    `rosterd server …` administers a local store (database file or URL), not a server.

    Its store is --data-dir / --database-url, else ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL.
    """
    store.choose(data_dir, database_url)
    remote.choose(profile)


REMOTE = "Remote: a server, over HTTP (login profile)"
LOCAL = "Local: a store (database file or URL)"
app.command(rich_help_panel=REMOTE)(login)
app.command(rich_help_panel=REMOTE)(logout)
app.add_typer(profiles_app, name="profiles", rich_help_panel=REMOTE)
app.add_typer(users_app, name="users", no_args_is_help=True, rich_help_panel=REMOTE)
app.add_typer(groups_app, name="groups", no_args_is_help=True, rich_help_panel=REMOTE)
app.add_typer(sweep_app, name="sweep", rich_help_panel=REMOTE)
app.command(rich_help_panel=REMOTE)(audit)
app.command(rich_help_panel=REMOTE)(export)
app.add_typer(server_app, name="server", rich_help_panel=LOCAL)
app.command(help="Same as `rosterd server serve`.", rich_help_panel=LOCAL)(serve)
app.command(help="Same as `rosterd server migrate`.", rich_help_panel=LOCAL)(migrate)
# The groups of `rosterd server` under their old top-level names, for scripts written before
# they moved; hidden from help.
for _name, _group in GROUPS.items():
    app.add_typer(_group, name=_name, hidden=True)
app.command("import", rich_help_panel=LOCAL)(importing.import_directory)
