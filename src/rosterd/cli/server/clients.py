"""``rosterd server clients``: OAuth 2.0 clients (create, list, rotate, revoke)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Column, Table
from rich.text import Text

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.cli import output, store
from rosterd.cli.output import id_column, time_column
from rosterd.cli.server.options import AsJson, ExpiresAt, ExpiresIn, Tenant, expiry_of, parse_scopes
from rosterd.cli.values import parse_duration, when
from rosterd.models.base import utcnow
from rosterd.models.credential import OAuthClient
from rosterd.services import clients as clients_service
from rosterd.services import tenants as tenants_service

clients_app = typer.Typer(help="Manage OAuth 2.0 clients.", no_args_is_help=True)


@clients_app.command("create")
def clients_create(
    tenant: Tenant,
    scopes: Annotated[
        list[str],
        typer.Option("--scopes", help=f"Scopes, comma- or space-separated: {' '.join(ALL_SCOPES)}"),
    ],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "cli",
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="A grant the client may use (repeatable): "
            f"{', '.join(clients_service.GRANT_TYPES)}. Default: client_credentials.",
        ),
    ] = None,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--redirect-uri",
            help="A redirect URI of the authorization code grant (repeatable), matched "
            "exactly: https, or http to 127.0.0.1/[::1]/localhost.",
        ),
    ] = None,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="A public client (an app that cannot keep a secret, such as a CLI or a "
            "single-page app): no secret; authorization code with PKCE only.",
        ),
    ] = False,
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Create an OAuth client and print its id and secret (if it has one) once."""
    expiry = expiry_of(expires_in, expires_at)
    grants = parse_scopes(grant or [])
    if (redirect_uri or public) and not grants:
        grants = [clients_service.AUTHORIZATION_CODE, clients_service.REFRESH_TOKEN]
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = clients_service.create_client(
            session,
            tenant_row,
            name=name,
            scopes=parse_scopes(scopes),
            hmac_key=runtime.hmac_key,
            actor=store.cli_actor(tenant_row.id),
            expires_at=expiry,
            grant_types=grants or None,
            redirect_uris=redirect_uri or [],
            public=public,
        )
        client = issued.client
        if as_json:
            printed: dict[str, object] = {"client_id": client.client_id}
            if issued.client_secret is not None:
                printed["client_secret"] = issued.client_secret
            printed["grant_types"] = client.grant_types
            if client.redirect_uris:
                printed["redirect_uris"] = client.redirect_uris
            if client.expires_at:
                printed["expires_at"] = when(client.expires_at)
            typer.echo(json.dumps(printed))
        else:
            output.out.print(f"client_id:     {client.client_id}")
            if issued.client_secret is not None:
                output.out.print(f"client_secret: {issued.client_secret}")
            output.out.print(f"scopes:        {' '.join(client.scopes)}")
            output.out.print(f"grants:        {' '.join(client.grant_types)}")
            for uri in client.redirect_uris:
                output.out.print(f"redirect URI:  {uri}")
            output.out.print(f"expires:       {when(client.expires_at, 'never')}")
            if issued.client_secret is None:
                output.out.print("A public client: it has no secret, and proves PKCE instead.")
            else:
                output.out.print("The secret is shown only now; rosterd keeps only its hash.")


@clients_app.command("list")
def clients_list(tenant: Tenant) -> None:
    """List a tenant's OAuth clients (never their secrets)."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        table = Table(
            id_column("client_id"),
            Column("name, grants", overflow="fold"),
            "scopes",
            time_column("last used"),
            time_column("state"),
        )
        for c in clients_service.list_clients(session, tenant_row):
            table.add_row(
                c.client_id,
                _name_and_grants(c),
                "\n".join(c.scopes),
                when(c.last_used_at, "never"),
                _client_state(c),
            )
        output.out.print(table)


def _name_and_grants(client: OAuthClient) -> Text:
    """The name, then (dimmed) the grants in words, whether it is public, and its redirect
    URIs, one to a line: words wrap, so scopes and ids keep their room in a narrow terminal."""
    grants = ", ".join(g.replace("_", " ") for g in client.grant_types)
    details = "\n".join([grants + (" (public)" if client.is_public else ""), *client.redirect_uris])
    return Text.assemble(client.name, "\n", (details, "dim"))


def _client_state(client: OAuthClient) -> str:
    """Revoked, expired or when it will expire, and until when a rotated-out secret works."""
    now = utcnow()
    if client.revoked_at is not None:
        return f"revoked {when(client.revoked_at)}"
    if client.expires_at is not None and client.expires_at <= now:
        return f"expired {when(client.expires_at)}"
    lines = [f"expires {when(client.expires_at)}"] if client.expires_at else ["active"]
    previous = client.previous_secret_expires_at
    if previous is not None and previous > now:
        lines.append(f"old secret until {when(previous)}")
    return "\n".join(lines)


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[str, typer.Argument(help="The client_id (from `clients list`).")],
    tenant: Tenant,
    grace: Annotated[
        timedelta,
        typer.Option(
            parser=parse_duration,
            metavar="DURATION",
            help="How long the current secret keeps working beside the new one (0: not at all).",
        ),
    ] = "24h",  # type: ignore[assignment]  # parsed by parse_duration
    as_json: AsJson = False,
) -> None:
    """Issue a new secret for a client and print it once; the old one works for the grace."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = clients_service.rotate_secret(
            session,
            tenant_row,
            client_id,
            hmac_key=runtime.hmac_key,
            actor=store.cli_actor(tenant_row.id),
            grace=grace,
        )
        old_until = when(issued.client.previous_secret_expires_at)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "client_id": issued.client.client_id,
                        "client_secret": issued.client_secret,
                        "previous_secret_expires_at": old_until or None,
                    }
                )
            )
        else:
            output.out.print(f"client_id:     {issued.client.client_id}")
            output.out.print(f"client_secret: {issued.client_secret}")
            output.out.print(
                f"The previous secret works until {old_until}."
                if old_until
                else "The previous secret no longer works."
            )
            output.out.print("The secret is shown only now; rosterd keeps only its hash.")


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[str, typer.Argument(help="The client_id (from `clients list`).")],
    tenant: Tenant,
) -> None:
    """Revoke a client: it gets no more tokens, and its tokens stop working within seconds."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        clients_service.revoke_client(
            session, tenant_row, client_id, store.cli_actor(tenant_row.id)
        )
        output.out.print(f"revoked {client_id}")
