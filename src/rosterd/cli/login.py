"""``rosterd login``, ``rosterd logout`` and ``rosterd profiles list``: the login profiles
the remote commands use (``rosterd.cli.profiles`` keeps them)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from rosterd.cli import browser_login, output, profiles, remote
from rosterd.cli.output import ExitCode, fail, id_column, reporting

profiles_app = typer.Typer(help="The login profiles of the remote commands.", no_args_is_help=True)


def _read_secret() -> str:
    """The client secret: from ROSTERD_CLIENT_SECRET, else prompted for without echo on a
    terminal, else the first line of stdin."""
    secret = os.environ.get(profiles.SECRET_ENV)
    if secret:
        return secret
    if sys.stdin.isatty():
        return str(typer.prompt("Client secret", hide_input=True, err=True))
    return sys.stdin.readline().strip()


def login(
    server: Annotated[
        str, typer.Option(help="The server's URL, e.g. https://rosterd.example.com.")
    ],
    client_id: Annotated[str, typer.Option(help="An OAuth client of the tenant.")],
    tenant: Annotated[str, typer.Option(help="The tenant's slug.")] = "default",
    browser: Annotated[
        bool,
        typer.Option(
            "--browser",
            help="Sign in as an admin in your browser instead of giving a client secret "
            "(the client is a public one with the redirect URI http://127.0.0.1/callback).",
        ),
    ] = False,
) -> None:
    """Check an OAuth client's credentials against a server and keep them as a profile.

    The secret comes from ROSTERD_CLIENT_SECRET (then it is not stored: the commands read it
    from there), else from a prompt (stdin when not a terminal); a prompted secret is stored
    in a file only you can read. With --browser there is no secret: you sign in and allow
    the command line in your browser, and it keeps a refresh token in that file instead.
    --profile NAME names the profile (default: 'default').
    """
    try:
        name = profiles.check_name(remote.profile_name())
    except profiles.ProfileError as exc:
        fail(str(exc), ExitCode.USAGE)
    if browser:
        _browser_login(name, server, tenant, client_id)
        return
    from_env = bool(os.environ.get(profiles.SECRET_ENV))
    secret = _read_secret()
    if not secret:
        fail("no client secret given", ExitCode.USAGE)
    with (
        reporting(),
        remote.make_client(server, tenant, client_id, secret) as client,
    ):
        client.authenticate()
    profile = profiles.Profile(name, server.rstrip("/"), tenant, client_id)
    profiles.save(profile, None if from_env else secret)
    output.err.print(f"logged in to {profile.server} (tenant {tenant}) as profile '{name}'")
    if from_env:
        output.err.print(f"The secret is not stored: it will be read from {profiles.SECRET_ENV}.")
    else:
        output.err.print(f"The secret is in {profiles.secret_file(name)} (readable only by you).")


def _browser_login(name: str, server: str, tenant: str, client_id: str) -> None:
    def show(url: str) -> None:
        output.err.print(f"Sign in and allow rosterd in your browser; if none opens, visit:\n{url}")

    try:
        tokens = browser_login.sign_in(server, tenant, client_id, show=show)
    except browser_login.BrowserLoginError as exc:
        fail(str(exc), ExitCode.AUTH)
    profile = profiles.Profile(name, server.rstrip("/"), tenant, client_id, profiles.BROWSER)
    profiles.save(profile, tokens.refresh_token)
    output.err.print(
        f"logged in to {profile.server} (tenant {tenant}) as profile '{name}', "
        f"with the scopes {tokens.scope or '(none)'}"
    )
    output.err.print(
        f"The refresh token is in {profiles.secret_file(name)} (readable only by you)."
    )


def logout() -> None:
    """Forget the profile (--profile, else 'default') and its stored secret."""
    name = remote.profile_name()
    try:
        found = profiles.remove(name)
    except profiles.ProfileError as exc:
        fail(str(exc), ExitCode.USAGE)
    if not found:
        fail(f"no profile {name!r}", ExitCode.NOT_FOUND)
    output.err.print(f"logged out: profile '{name}' and its secret are gone")


@profiles_app.command("list")
def profiles_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the login profiles (never their secrets)."""
    try:
        known = profiles.load_all()
    except profiles.ProfileError as exc:
        fail(str(exc))
    chosen = remote.profile_name()
    rows = [
        {
            "name": p.name,
            "server": p.server,
            "tenant": p.tenant,
            "clientId": p.client_id,
            "secretStored": profiles.stored_secret(p.name) is not None,
            "current": p.name == chosen,
        }
        for p in known
    ]
    if as_json:
        output.print_json({"items": rows})
        return
    output.table(
        id_column("name"),
        "server",
        "tenant",
        id_column("client id"),
        "secret",
        rows=(
            (
                ("* " if r["current"] else "") + str(r["name"]),
                str(r["server"]),
                str(r["tenant"]),
                str(r["clientId"]),
                "stored" if r["secretStored"] else profiles.SECRET_ENV,
            )
            for r in rows
        ),
    )
