"""``rosterd server scim-tokens`` and ``rosterd server api-keys``: bearer secrets issued to
a tenant (create, list, revoke)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from rosterd.cli import output, store
from rosterd.cli.output import id_column, time_column
from rosterd.cli.server.options import AsJson, ExpiresAt, ExpiresIn, Tenant, expiry_of, parse_uuid
from rosterd.cli.values import when
from rosterd.models.credential import TenantSecret
from rosterd.services import api_keys as api_keys_service
from rosterd.services import bearer_secrets
from rosterd.services import scim_tokens as scim_tokens_service
from rosterd.services import tenants as tenants_service

scim_app = typer.Typer(help="Manage SCIM bearer tokens.", no_args_is_help=True)
api_keys_app = typer.Typer(help="Manage tenant API keys.", no_args_is_help=True)


def _issue_secret(
    kind: bearer_secrets.SecretKind[Any],
    tenant: str,
    name: str,
    expires_at: datetime | None,
    as_json: bool,
    *,
    field: str,
) -> None:
    """Issue a SCIM token or API key and print it, the only time it is ever shown."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = bearer_secrets.create(
            session,
            kind,
            tenant_row,
            name=name,
            hmac_key=runtime.hmac_key,
            actor=store.cli_actor(tenant_row.id),
            expires_at=expires_at,
        )
        if as_json:
            printed = {field: issued.secret}
            if issued.record.expires_at:
                printed["expires_at"] = when(issued.record.expires_at)
            typer.echo(json.dumps(printed))
        else:
            output.out.print(f"id: {issued.record.id}")
            output.out.print(f"{field}: {issued.secret}")
            output.out.print(f"expires: {when(issued.record.expires_at, 'never')}")
            output.out.print(f"The {kind.label} is shown only now; rosterd keeps only its hash.")


def _secret_table(records: Sequence[TenantSecret]) -> None:
    table = Table(
        id_column("id"),
        "name",
        *map(time_column, ("created", "expires", "last used", "revoked")),
    )
    for t in records:
        table.add_row(
            str(t.id),
            t.name,
            when(t.created_at),
            when(t.expires_at),
            when(t.last_used_at, "never"),
            when(t.revoked_at),
        )
    output.out.print(table)


def _revoke_secret(kind: bearer_secrets.SecretKind[Any], secret_id: str, tenant: str) -> None:
    parsed = parse_uuid(secret_id)
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        bearer_secrets.revoke(session, kind, tenant_row, parsed, store.cli_actor(tenant_row.id))
        output.out.print(f"revoked {parsed}")


@scim_app.command("create")
def scim_tokens_create(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for.")] = "scim",
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Issue a SCIM token and print it once."""
    expiry = expiry_of(expires_in, expires_at)
    _issue_secret(scim_tokens_service.KIND, tenant, name, expiry, as_json, field="token")


@scim_app.command("list")
def scim_tokens_list(tenant: Tenant) -> None:
    """List a tenant's SCIM tokens with their expiry and last use (never the tokens)."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        _secret_table(scim_tokens_service.list_tokens(session, tenant_row))


@scim_app.command("revoke")
def scim_tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `scim-tokens list`).")],
    tenant: Tenant,
) -> None:
    """Revoke a SCIM token; IdPs using it get 401 from then on."""
    _revoke_secret(scim_tokens_service.KIND, token_id, tenant)


@api_keys_app.command("create")
def api_keys_create(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "api",
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Issue an API key and print it once."""
    expiry = expiry_of(expires_in, expires_at)
    _issue_secret(api_keys_service.KIND, tenant, name, expiry, as_json, field="api_key")


@api_keys_app.command("list")
def api_keys_list(tenant: Tenant) -> None:
    """List a tenant's API keys with their expiry and last use (never the keys)."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        keys = bearer_secrets.list_all(session, api_keys_service.KIND, tenant_row)
        _secret_table(keys)


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `api-keys list`).")],
    tenant: Tenant,
) -> None:
    """Revoke an API key; callers using it get 401 from then on."""
    _revoke_secret(api_keys_service.KIND, key_id, tenant)
