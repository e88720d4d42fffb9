"""``rosterd server …``: administration of a local store (a database file or URL), not of a
running server over HTTP. These commands open the store that --data-dir / --database-url (or
ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL) name; the remote commands (``rosterd users``, …)
talk to a server through a login profile instead."""

from __future__ import annotations

import typer

from rosterd.cli.server.admins import admins_app
from rosterd.cli.server.bearer_tokens import api_keys_app, scim_app
from rosterd.cli.server.clients import clients_app
from rosterd.cli.server.keys import keys_app
from rosterd.cli.server.serving import migrate, serve
from rosterd.cli.server.tenants import tenants_app

# The groups of local administration, by name, as ``rosterd server`` shows them.
GROUPS: dict[str, typer.Typer] = {
    "tenants": tenants_app,
    "clients": clients_app,
    "scim-tokens": scim_app,
    "admins": admins_app,
    "api-keys": api_keys_app,
    "keys": keys_app,
}

server_app = typer.Typer(
    help="Administer a local store (database file or URL): serve it, migrate it, manage "
    "tenants and credentials. Works on --data-dir / --database-url, not over HTTP.",
    no_args_is_help=True,
)
server_app.command()(serve)
server_app.command()(migrate)
for _name, _group in GROUPS.items():
    server_app.add_typer(_group, name=_name)
