"""``rosterd server keys``: the tenants' token signing keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from rosterd.cli import output, store
from rosterd.cli.output import id_column
from rosterd.cli.server.options import Tenant
from rosterd.cli.values import when
from rosterd.models.base import utcnow
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import signing_keys as signing_keys_service
from rosterd.services import tenants as tenants_service

keys_app = typer.Typer(help="Manage the tenants' token signing keys.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(
    tenant: Annotated[str | None, typer.Option(help="Tenant slug.")] = None,
    all_tenants: Annotated[bool, typer.Option("--all", help="Rotate every tenant's key.")] = False,
) -> None:
    """Give a tenant a new signing key; the previous one stops signing but keeps verifying
    the tokens it signed until they expire. Running servers sign with the new key within
    ROSTERD_SIGNING_KEY_REFRESH_SECONDS."""
    if (tenant is None) != all_tenants:
        output.err.print(
            "[red]error:[/red] name one tenant with --tenant, or every tenant with --all"
        )
        raise typer.Exit(1)
    with store.runtime() as runtime:
        with runtime.db.reader() as session:
            if tenant is None:
                targets = [(t.id, t.slug) for t in tenants_repo.list_all(session)]
            else:
                row = tenants_service.get_tenant_by_slug(session, tenant)
                targets = [(row.id, row.slug)]
        for tenant_id, slug in targets:
            rotation = runtime.rotate_signing_key(tenant_id, store.cli_actor(tenant_id))
            line = f"{slug}: key {rotation.key.kid} signs from now on"
            if rotation.retired:
                until = rotation.key.created_at + runtime.keys.grace
                line += f"; {', '.join(rotation.retired)} verifies until {when(until)}"
            output.out.print(line)


@keys_app.command("list")
def keys_list(tenant: Tenant) -> None:
    """List a tenant's signing keys, newest first (never key material)."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        keys = signing_keys_service.list_keys(session, tenant_row, runtime.keys.grace)
        now = utcnow()
        table = Table(id_column("kid"), "status", "created", "retired", "verify until")
        for k in keys:
            status = k.status(now) + (" (legacy)" if k.legacy else "")
            table.add_row(
                k.kid, status, when(k.created_at), when(k.retired_at), when(k.verify_until)
            )
        output.out.print(table)
