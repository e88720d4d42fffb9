"""The ``rosterd`` command: serve, migrate, and manage tenants and OAuth clients."""

from __future__ import annotations

import itertools
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.config import Settings, get_settings
from rosterd.db.maintenance import refresh_statistics
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models.base import utcnow
from rosterd.models.credential import TenantSecret
from rosterd.repositories import credentials as credentials_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime, open_runtime
from rosterd.services import admins as admins_service
from rosterd.services import api_keys as api_keys_service
from rosterd.services import bearer_secrets
from rosterd.services import clients as clients_service
from rosterd.services import imports as imports_service
from rosterd.services import scim_tokens as scim_tokens_service
from rosterd.services import signing_keys as signing_keys_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError

app = typer.Typer(help="rosterd: a self-hosted, multi-tenant user directory.", no_args_is_help=True)
tenants_app = typer.Typer(help="Manage tenants.", no_args_is_help=True)
clients_app = typer.Typer(help="Manage OAuth 2.0 clients.", no_args_is_help=True)
scim_app = typer.Typer(help="Manage SCIM bearer tokens.", no_args_is_help=True)
admins_app = typer.Typer(help="Manage admin users (the /api/v1 login).", no_args_is_help=True)
api_keys_app = typer.Typer(help="Manage tenant API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the tenants' token signing keys.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(clients_app, name="clients")
app.add_typer(scim_app, name="scim-tokens")
app.add_typer(admins_app, name="admins")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(keys_app, name="keys")

CLI_ACTOR = "cli"

# soft_wrap: messages carry paths, URLs and secrets; Rich must not break them with newlines
# when writing to a pipe or log (the terminal itself still wraps long lines for display).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _announce_bootstrap(runtime: Runtime) -> None:
    if runtime.bootstrap_credentials is not None:
        err.print(
            f"[bold]First start:[/bold] created tenant '{runtime.settings.default_tenant}' and a "
            f"bootstrap admin OAuth client. Its credentials are in "
            f"[bold]{runtime.bootstrap_credentials}[/bold] (readable only by you); store them "
            "and delete the file."
        )


def _id_column(header: str) -> Column:
    """A column of identifiers people copy into other commands: never cut short or wrapped."""
    return Column(header, no_wrap=True)


@contextmanager
def _runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    runtime = open_runtime(settings or get_settings())
    _announce_bootstrap(runtime)
    try:
        yield runtime
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Migrate the store if needed and serve every API on one port."""
    import uvicorn

    from rosterd.api.app import create_app

    settings = get_settings()
    runtime = open_runtime(settings)
    _announce_bootstrap(runtime)
    store = runtime.db.engine.url.render_as_string()
    err.print(f"rosterd listening on http://{host}:{port} (store: {store})")
    scheduler = Scheduler(runtime.db, interval_seconds=settings.scheduler_interval_seconds)
    scheduler.start()
    try:
        uvicorn.run(
            create_app(runtime),
            host=host,
            port=port,
            log_level=settings.log_level,
            # The app believes forwarded headers from ROSTERD_TRUSTED_PROXIES only; uvicorn's
            # own default would trust 127.0.0.1 whatever the settings say.
            proxy_headers=False,
        )
    finally:
        scheduler.stop()
        runtime.close()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    with _runtime() as runtime:
        out.print(f"database at {runtime.db.engine.url.render_as_string()} is up to date")


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits and hyphens.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Add a tenant (its system roles are seeded)."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant = tenants_service.create_tenant(session, slug, name)
        out.print(f"created tenant {tenant.slug} ({tenant.id})")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    with _runtime() as runtime, runtime.db.reader() as session:
        table = Table(_id_column("slug"), "name", _id_column("id"), "created")
        for t in tenants_repo.list_all(session):
            table.add_row(t.slug, t.name, str(t.id), t.created_at.isoformat(timespec="seconds"))
        out.print(table)


def _parse_scopes(values: list[str]) -> list[str]:
    return [s for v in values for s in re.split(r"[,\s]+", v) if s]


@clients_app.command("create")
def clients_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    scopes: Annotated[
        list[str],
        typer.Option("--scopes", help=f"Scopes, comma- or space-separated: {' '.join(ALL_SCOPES)}"),
    ],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Create an OAuth client and print its id and secret once."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = clients_service.create_client(
            session, tenant_row, name=name, scopes=_parse_scopes(scopes), hmac_key=runtime.hmac_key
        )
        if as_json:
            typer.echo(
                json.dumps(
                    {"client_id": issued.client.client_id, "client_secret": issued.client_secret}
                )
            )
        else:
            out.print(f"client_id:     {issued.client.client_id}")
            out.print(f"client_secret: {issued.client_secret}")
            out.print(f"scopes:        {' '.join(issued.client.scopes)}")
            out.print("The secret is shown only now; rosterd keeps only its hash.")


@clients_app.command("list")
def clients_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's OAuth clients (never their secrets)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        table = Table(_id_column("client_id"), "name", "scopes", "last used", "revoked")
        for c in credentials_repo.list_clients(session, tenant_row.id):
            table.add_row(
                c.client_id,
                c.name,
                " ".join(c.scopes),
                c.last_used_at.isoformat(timespec="seconds") if c.last_used_at else "never",
                "yes" if c.revoked_at else "",
            )
        out.print(table)


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
) -> None:
    """Change a tenant's settings."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
        if scim_delete is not None:
            tenants_service.set_scim_delete(session, tenant, scim_delete)
        if sso_only is not None:
            tenants_service.set_sso_only(session, tenant, sso_only)
        if shared_emails is not None:
            tenants_service.set_shared_emails(session, tenant, shared_emails)
        out.print(f"{tenant.slug}: {json.dumps(tenant.settings)}")


def _cli_actor(tenant_id: uuid.UUID) -> Actor:
    return Actor(tenant_id=tenant_id, actor=CLI_ACTOR, surface="cli")


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {value!r} is not an id")
        raise typer.Exit(1) from exc


def _issue_secret(
    kind: bearer_secrets.SecretKind[Any], tenant: str, name: str, as_json: bool, *, field: str
) -> None:
    """Issue a SCIM token or API key and print it, the only time it is ever shown."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = bearer_secrets.create(
            session,
            kind,
            tenant_row,
            name=name,
            hmac_key=runtime.hmac_key,
            actor=_cli_actor(tenant_row.id),
        )
        if as_json:
            typer.echo(json.dumps({field: issued.secret}))
        else:
            out.print(f"id: {issued.record.id}")
            out.print(f"{field}: {issued.secret}")
            out.print(f"The {kind.label} is shown only now; rosterd keeps only its hash.")


def _secret_table(records: Sequence[TenantSecret]) -> None:
    table = Table(_id_column("id"), "name", "created", "last used", "revoked")
    for t in records:
        table.add_row(
            str(t.id),
            t.name,
            t.created_at.isoformat(timespec="seconds"),
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "",
        )
    out.print(table)


@scim_app.command("create")
def scim_tokens_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for.")] = "scim",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Issue a SCIM token and print it once."""
    _issue_secret(scim_tokens_service.KIND, tenant, name, as_json, field="token")


@scim_app.command("list")
def scim_tokens_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's SCIM tokens with their last use (never the tokens)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        _secret_table(scim_tokens_service.list_tokens(session, tenant_row))


@scim_app.command("revoke")
def scim_tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `scim-tokens list`).")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
) -> None:
    """Revoke a SCIM token; IdPs using it get 401 from then on."""
    parsed = _parse_uuid(token_id)
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        scim_tokens_service.revoke_token(session, tenant_row, parsed, _cli_actor(tenant_row.id))
        out.print(f"revoked {parsed}")


def _read_password(prompt: bool) -> str:
    if not prompt or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@admins_app.command("create")
def admins_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    username: Annotated[str, typer.Option(help="Login name, unique across the server.")],
) -> None:
    """Create an admin; the password is read from stdin, or prompted for on a terminal."""
    password = _read_password(prompt=True)
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        admin = admins_service.create_admin(
            session,
            tenant_row,
            username=username,
            password=password,
            actor=_cli_actor(tenant_row.id),
        )
        out.print(f"created admin {admin.username} in {tenant_row.slug}")


@admins_app.command("list")
def admins_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's admins."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        table = Table("username", "last login", "locked until")
        for a in admins_service.list_admins(session, tenant_row):
            table.add_row(
                a.username,
                a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else "never",
                a.locked_until.isoformat(timespec="seconds") if a.locked_until else "",
            )
        out.print(table)


@api_keys_app.command("create")
def api_keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "api",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Issue an API key and print it once."""
    _issue_secret(api_keys_service.KIND, tenant, name, as_json, field="api_key")


@api_keys_app.command("list")
def api_keys_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's API keys with their last use (never the keys)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        keys = bearer_secrets.list_all(session, api_keys_service.KIND, tenant_row)
        _secret_table(keys)


@api_keys_app.command("revoke")
def api_keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `api-keys list`).")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
) -> None:
    """Revoke an API key."""
    parsed = _parse_uuid(key_id)
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        bearer_secrets.revoke(
            session, api_keys_service.KIND, tenant_row, parsed, _cli_actor(tenant_row.id)
        )
        out.print(f"revoked {parsed}")


def _when(value: datetime | None) -> str:
    # With spaces, so a narrow table wraps the time instead of cutting it short.
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else ""


@keys_app.command("rotate")
def keys_rotate(
    tenant: Annotated[str | None, typer.Option(help="Tenant slug.")] = None,
    all_tenants: Annotated[bool, typer.Option("--all", help="Rotate every tenant's key.")] = False,
) -> None:
    """Give a tenant a new signing key; the previous one stops signing but keeps verifying
    the tokens it signed until they expire. Running servers sign with the new key within
    ROSTERD_SIGNING_KEY_REFRESH_SECONDS."""
    if (tenant is None) != all_tenants:
        err.print("[red]error:[/red] name one tenant with --tenant, or every tenant with --all")
        raise typer.Exit(1)
    with _runtime() as runtime:
        with runtime.db.reader() as session:
            if tenant is None:
                targets = [(t.id, t.slug) for t in tenants_repo.list_all(session)]
            else:
                row = tenants_service.get_tenant_by_slug(session, tenant)
                targets = [(row.id, row.slug)]
        for tenant_id, slug in targets:
            rotation = runtime.rotate_signing_key(tenant_id, _cli_actor(tenant_id))
            line = f"{slug}: key {rotation.key.kid} signs from now on"
            if rotation.retired:
                until = rotation.key.created_at + runtime.keys.grace
                line += f"; {', '.join(rotation.retired)} verifies until {_when(until)}"
            out.print(line)


@keys_app.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's signing keys, newest first (never key material)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        keys = signing_keys_service.list_keys(session, tenant_row, runtime.keys.grace)
        now = utcnow()
        table = Table(_id_column("kid"), "status", "created", "retired", "verify until")
        for k in keys:
            status = k.status(now) + (" (legacy)" if k.legacy else "")
            table.add_row(
                k.kid, status, _when(k.created_at), _when(k.retired_at), _when(k.verify_until)
            )
        out.print(table)


@app.command("import")
def import_directory(
    path: Annotated[Path, typer.Argument(help="JSON Lines file; '-' reads stdin.")],
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
) -> None:
    """Bulk-load groups, teams and users (see services/imports.py for the format).

    Each batch is one transaction: on a bad line the import stops, reports the line, and
    keeps the batches before it.
    """
    started = time.monotonic()
    total = imports_service.ImportResult()
    with _runtime() as runtime:
        with runtime.db.reader() as session:
            tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
            names = imports_service.Names.load(session, tenant_row.id)
        actor = _cli_actor(tenant_row.id)
        stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
        with stream:
            lines = ((n, line) for n, line in enumerate(stream, start=1) if line.strip())
            while batch := list(itertools.islice(lines, batch_size)):
                parsed = [(n, imports_service.parse(n, line)) for n, line in batch]
                with runtime.db.writer.begin() as session:
                    done = imports_service.import_batch(session, actor, names, parsed)
                for name in ("groups", "teams", "users", "memberships"):
                    setattr(total, name, getattr(total, name) + getattr(done, name))
        refresh_statistics(runtime.db)
    elapsed = time.monotonic() - started
    out.print(
        f"imported {total.users} users, {total.groups} groups, {total.teams} teams, "
        f"{total.memberships} memberships in {elapsed:.1f}s"
    )
