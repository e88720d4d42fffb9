"""``rosterd server tenants``: create, list and configure tenants."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from rosterd.cli import output, store
from rosterd.cli.output import id_column
from rosterd.ratelimit.tenant_policies import CREDENTIAL, TENANT
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import tenants as tenants_service

tenants_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits and hyphens.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Add a tenant (its system roles are seeded)."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant = tenants_service.create_tenant(session, slug, name)
        output.out.print(f"created tenant {tenant.slug} ({tenant.id})")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        table = Table(id_column("slug"), "name", id_column("id"), "created")
        for t in tenants_repo.list_all(session):
            table.add_row(t.slug, t.name, str(t.id), t.created_at.isoformat(timespec="seconds"))
        output.out.print(table)


@tenants_app.command("configure")
def tenants_configure(
    slug: Annotated[str, typer.Argument(help="Tenant slug.")],
    scim_delete: Annotated[
        str | None,
        typer.Option(help="What SCIM DELETE /Users does: 'delete' (default) or 'deactivate'."),
    ] = None,
    sso_only: Annotated[
        bool | None,
        typer.Option(
            "--sso-only/--no-sso-only",
            help="Users sign in only through SSO: /api/v1 creates them without passwords.",
        ),
    ] = None,
    shared_emails: Annotated[
        bool | None,
        typer.Option(
            "--shared-emails/--unique-emails",
            help="Let users share an email address (for IdPs that have such users); by "
            "default an address belongs to one user and a second one is refused.",
        ),
    ] = None,
    rate_limit_per_credential: Annotated[
        str | None,
        typer.Option(
            help="This tenant's limit per credential instead of ROSTERD_RATE_LIMIT_PER_CREDENTIAL"
            ", e.g. '50/second;3000/minute'; 'default' uses the setting again.",
        ),
    ] = None,
    rate_limit_per_tenant: Annotated[
        str | None,
        typer.Option(
            help="This tenant's limit for all its credentials together instead of "
            "ROSTERD_RATE_LIMIT_PER_TENANT; 'default' uses the setting again.",
        ),
    ] = None,
    idle_sweep_guard_percent: Annotated[
        float | None,
        typer.Option(
            help="Hold idle sweeps that touch more than this percent of the tenant's active "
            "users until an admin client confirms them (default 10).",
        ),
    ] = None,
    idle_sweep_guard_users: Annotated[
        int | None,
        typer.Option(
            help="Hold idle sweeps that touch more than this many users until an admin client "
            "confirms them (default 500).",
        ),
    ] = None,
) -> None:
    """Change a tenant's settings (audited as one change, by the CLI)."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
        before = dict(tenant.settings)
        if scim_delete is not None:
            tenants_service.set_scim_delete(session, tenant, scim_delete)
        if sso_only is not None:
            tenants_service.set_sso_only(session, tenant, sso_only)
        if shared_emails is not None:
            tenants_service.set_shared_emails(session, tenant, shared_emails)
        for scope, limit in (
            (CREDENTIAL, rate_limit_per_credential),
            (TENANT, rate_limit_per_tenant),
        ):
            if limit is not None:
                own = None if limit.strip().lower() == "default" else limit
                tenants_service.set_rate_limit(session, tenant, scope, own)
        if idle_sweep_guard_percent is not None or idle_sweep_guard_users is not None:
            tenants_service.set_idle_sweep_guard(
                session, tenant, percent=idle_sweep_guard_percent, users=idle_sweep_guard_users
            )
        tenants_service.record_settings_change(session, tenant, store.cli_actor(tenant.id), before)
        output.out.print(f"{tenant.slug}: {json.dumps(tenant.settings)}")
