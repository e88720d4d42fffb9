"""The ``rosterd`` command: serve, migrate, and manage tenants and credentials.

Every command works on the store named by ``--data-dir`` / ``--database-url`` (given before
or after the command's name), else by ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL or ./.env.
Only ``serve`` and ``migrate`` create a store; the others refuse where there is none and say
which store they looked for, so a command run from the wrong directory cannot start a second,
empty store whose credentials the server would not know.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table
from typer.core import TyperGroup

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.config import Settings, get_settings
from rosterd.db.maintenance import refresh_statistics
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.lifecycle.search_indexer import SearchIndexer
from rosterd.lifecycle.webhooks import webhook_deliverer
from rosterd.models.base import utcnow
from rosterd.models.credential import OAuthClient, TenantSecret
from rosterd.ratelimit.tenant_policies import CREDENTIAL, TENANT
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import NoStore, Runtime, open_runtime
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

_STORE_OPTIONS = ("--data-dir", "--database-url")
_DATA_DIR_HELP = "The store's data directory (SQLite file, secret key); else ROSTERD_DATA_DIR."
_DATABASE_URL_HELP = (
    "The store's database URL, e.g. postgresql+psycopg://user@host/db; else ROSTERD_DATABASE_URL."
)
# The settings of this invocation, built by the app's callback before any command runs.
_invocation_settings: ContextVar[Settings | None] = ContextVar("settings", default=None)


def _store_options_first(args: list[str]) -> list[str]:
    """``args`` with the store options moved to the front, wherever they were given, so that
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
        if arg in _STORE_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 2
            continue
        (front if arg.split("=", 1)[0] in _STORE_OPTIONS else rest).append(arg)
        i += 1
    return front + rest


class _StoreOptionsAnywhere(TyperGroup):
    """The root group: takes the store options before or after the command's name."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _store_options_first(args))


app = typer.Typer(
    no_args_is_help=True,
    cls=_StoreOptionsAnywhere,
)
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
            f"[bold]First start:[/bold] created tenant '{runtime.settings.default_tenant}', a "
            "bootstrap admin OAuth client and the admin console's first admin account "
            f"({runtime.settings.public_url.rstrip('/')}/admin/). Their credentials are in "
            f"[bold]{runtime.bootstrap_credentials}[/bold] (readable only by you); store them "
            "and delete the file."
        )


def _id_column(header: str) -> Column:
    """A column of identifiers people copy into other commands: never cut short or wrapped."""
    return Column(header, no_wrap=True)


def _time_column(header: str) -> Column:
    """A column of timestamps: folded onto more lines when narrow, never cut short."""
    return Column(header, overflow="fold")


@app.callback(
    epilog="--data-dir and --database-url may also follow the command, e.g. "
    "`rosterd clients list --tenant acme --data-dir /srv/rosterd`."
)
def _store(
    data_dir: Annotated[
        Path | None, typer.Option(file_okay=False, help=_DATA_DIR_HELP, show_default=False)
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help=_DATABASE_URL_HELP, show_default=False)
    ] = None,
) -> None:
    """rosterd: a self-hosted, multi-tenant user directory.

    Every command works on the store that --data-dir / --database-url name,
    else on ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL (environment or ./.env).

    Only `serve` and `migrate` create a store where there is none.
    """
    given = {"data_dir": data_dir, "database_url": database_url}
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    _invocation_settings.set(Settings(**overrides) if overrides else get_settings())


def _settings() -> Settings:
    """The settings every command uses: the environment's, with the store options over them."""
    return _invocation_settings.get() or get_settings()


def _open(*, create: bool) -> Runtime:
    try:
        runtime = open_runtime(_settings(), create=create)
    except NoStore as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    _announce_bootstrap(runtime)
    return runtime


@contextmanager
def _runtime(*, create: bool = False) -> Iterator[Runtime]:
    """The runtime on the store the command names; only ``create=True`` may make one."""
    runtime = _open(create=create)
    try:
        yield runtime
    except DomainError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        runtime.close()


_WORKERS_HELP = (
    "Worker processes serving requests; else ROSTERD_WORKERS, else 1. More than one needs "
    "PostgreSQL (on SQLite, serve refuses: SQLite admits one writer at a time, and rosterd "
    "queues writers within one process only). Rate limits kept in memory:// are counted per "
    "worker; ROSTERD_RATE_LIMIT_STORAGE=redis://... shares them."
)
ASGI_FACTORY = "rosterd.api.asgi:create"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help=_WORKERS_HELP, show_default=False)
    ] = None,
) -> None:
    """Migrate the store if needed and serve every API on one port.

    This process migrates the store, makes the first tenant of an empty one, and runs the
    scheduler (expiry dates), the webhook deliverer and, on SQLite, the search indexer;
    with --workers N it then starts N worker processes, each with its own database
    connections, sharing the port.
    Several nodes on one PostgreSQL database each run a scheduler and a deliverer; row
    locks make every expiry happen, and every webhook delivery go out, once.
    """
    import uvicorn

    from rosterd.api.app import create_app

    settings = _settings()
    count = settings.workers if workers is None else workers
    if count > 1:
        _check_workers(settings, count)
    runtime = _open(create=True)
    store = runtime.db.engine.url.render_as_string()
    processes = f", {count} workers" if count > 1 else ""
    err.print(f"rosterd listening on http://{host}:{port} (store: {store}{processes})")
    scheduler = Scheduler(
        runtime.db,
        interval_seconds=settings.scheduler_interval_seconds,
        audit_retention_days=settings.audit_retention_days,
    )
    scheduler.start()
    # SQLite's search index is brought up to date in the background (PostgreSQL keeps its own).
    indexer = SearchIndexer(runtime.db) if runtime.db.is_sqlite else None
    if indexer is not None:
        indexer.start()
    deliverer = webhook_deliverer(runtime)
    deliverer.start()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        # The app believes forwarded headers from ROSTERD_TRUSTED_PROXIES only; uvicorn's
        # own default would trust 127.0.0.1 whatever the settings say.
        "proxy_headers": False,
        # Seconds a worker has to answer the serve process's health check, from its spawn
        # on: a fresh interpreter importing rosterd on a busy host needs more than
        # uvicorn's 5, and one killed while starting is only started again.
        "timeout_worker_healthcheck": 30,
    }
    try:
        if count == 1:
            uvicorn.run(create_app(runtime), **options)
        else:
            _hand_store_to_workers(settings)
            uvicorn.run(ASGI_FACTORY, factory=True, workers=count, **options)
    finally:
        deliverer.stop()
        if indexer is not None:
            indexer.stop()
        scheduler.stop()
        runtime.close()


def _check_workers(settings: Settings, count: int) -> None:
    """Refuse several workers on SQLite; warn when each would keep rate limits of its own."""
    if settings.is_sqlite:
        err.print(
            f"[red]error:[/red] --workers {count} needs PostgreSQL "
            "(ROSTERD_DATABASE_URL=postgresql+psycopg://...). SQLite admits one writer at a "
            "time and rosterd queues writers within one process, so one process serves a "
            "SQLite store: run serve with one worker."
        )
        raise typer.Exit(2)
    if settings.rate_limit_storage.startswith("memory://"):
        err.print(
            f"[yellow]warning:[/yellow] rate limits and failed-login limits are counted in "
            f"each worker's memory: with {count} workers a client may get up to {count} times "
            "each limit. Set ROSTERD_RATE_LIMIT_STORAGE=redis://host:6379/0 to share them."
        )


def _hand_store_to_workers(settings: Settings) -> None:
    """Put the store this command resolved (its --data-dir / --database-url included) in the
    environment the spawned workers read their settings from."""
    os.environ["ROSTERD_DATA_DIR"] = str(settings.data_dir.resolve())
    os.environ["ROSTERD_DATABASE_URL"] = settings.resolved_database_url


@app.command()
def migrate() -> None:
    """Create the store, or upgrade its schema."""
    with _runtime(create=True) as runtime:
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


_DURATION = re.compile(r"(\d+)([smhdw])")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_duration(value: str) -> timedelta:
    """``90d``, ``24h``, ``1w2d``: whole numbers of s, m, h, d, w; ``0`` is no time."""
    text = value.strip().lower()
    if text == "0":
        return timedelta(0)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise typer.BadParameter(f"{value!r} is not a duration such as 90d, 24h, 30m or 1w2d")
    return sum((timedelta(**{_DURATION_UNITS[u]: int(n)}) for n, u in parts), timedelta(0))


def _parse_instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 date and time") from exc
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone: add Z or an offset such as +02:00")
    return parsed


ExpiresIn = Annotated[
    timedelta | None,
    typer.Option(
        parser=_parse_duration,
        metavar="DURATION",
        help="Stop working after this long, e.g. 90d, 12h, 1w.",
        show_default=False,
    ),
]
ExpiresAt = Annotated[
    datetime | None,
    typer.Option(
        parser=_parse_instant,
        metavar="ISO-8601",
        help="Stop working at this time, e.g. 2030-01-31T00:00:00Z.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Tenant = Annotated[str, typer.Option(help="Tenant slug.")]


def _expiry(expires_in: timedelta | None, expires_at: datetime | None) -> datetime | None:
    if expires_in is not None and expires_at is not None:
        raise typer.BadParameter("give --expires-in or --expires-at, not both")
    return utcnow() + expires_in if expires_in is not None else expires_at


def _when(value: datetime | None, unset: str = "") -> str:
    """A time in UTC to the second, e.g. 2030-01-31T09:00:00Z."""
    if value is None:
        return unset
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@clients_app.command("create")
def clients_create(
    tenant: Tenant,
    scopes: Annotated[
        list[str],
        typer.Option("--scopes", help=f"Scopes, comma- or space-separated: {' '.join(ALL_SCOPES)}"),
    ],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "cli",
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Create an OAuth client and print its id and secret once."""
    expiry = _expiry(expires_in, expires_at)
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = clients_service.create_client(
            session,
            tenant_row,
            name=name,
            scopes=_parse_scopes(scopes),
            hmac_key=runtime.hmac_key,
            actor=_cli_actor(tenant_row.id),
            expires_at=expiry,
        )
        client = issued.client
        if as_json:
            printed = {"client_id": client.client_id, "client_secret": issued.client_secret}
            if client.expires_at:
                printed["expires_at"] = _when(client.expires_at)
            typer.echo(json.dumps(printed))
        else:
            out.print(f"client_id:     {client.client_id}")
            out.print(f"client_secret: {issued.client_secret}")
            out.print(f"scopes:        {' '.join(client.scopes)}")
            out.print(f"expires:       {_when(client.expires_at, 'never')}")
            out.print("The secret is shown only now; rosterd keeps only its hash.")


@clients_app.command("list")
def clients_list(tenant: Tenant) -> None:
    """List a tenant's OAuth clients (never their secrets)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        table = Table(
            _id_column("client_id"),
            "name",
            "scopes",
            _time_column("last used"),
            _time_column("state"),
        )
        for c in clients_service.list_clients(session, tenant_row):
            table.add_row(
                c.client_id,
                c.name,
                " ".join(c.scopes),
                _when(c.last_used_at, "never"),
                _client_state(c),
            )
        out.print(table)


def _client_state(client: OAuthClient) -> str:
    """Revoked, expired or when it will expire, and until when a rotated-out secret works."""
    now = utcnow()
    if client.revoked_at is not None:
        return f"revoked {_when(client.revoked_at)}"
    if client.expires_at is not None and client.expires_at <= now:
        return f"expired {_when(client.expires_at)}"
    lines = [f"expires {_when(client.expires_at)}"] if client.expires_at else ["active"]
    previous = client.previous_secret_expires_at
    if previous is not None and previous > now:
        lines.append(f"old secret until {_when(previous)}")
    return "\n".join(lines)


@clients_app.command("rotate")
def clients_rotate(
    client_id: Annotated[str, typer.Argument(help="The client_id (from `clients list`).")],
    tenant: Tenant,
    grace: Annotated[
        timedelta,
        typer.Option(
            parser=_parse_duration,
            metavar="DURATION",
            help="How long the current secret keeps working beside the new one (0: not at all).",
        ),
    ] = "24h",  # type: ignore[assignment]  # parsed by _parse_duration
    as_json: AsJson = False,
) -> None:
    """Issue a new secret for a client and print it once; the old one works for the grace."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        issued = clients_service.rotate_secret(
            session,
            tenant_row,
            client_id,
            hmac_key=runtime.hmac_key,
            actor=_cli_actor(tenant_row.id),
            grace=grace,
        )
        old_until = _when(issued.client.previous_secret_expires_at)
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
            out.print(f"client_id:     {issued.client.client_id}")
            out.print(f"client_secret: {issued.client_secret}")
            out.print(
                f"The previous secret works until {old_until}."
                if old_until
                else "The previous secret no longer works."
            )
            out.print("The secret is shown only now; rosterd keeps only its hash.")


@clients_app.command("revoke")
def clients_revoke(
    client_id: Annotated[str, typer.Argument(help="The client_id (from `clients list`).")],
    tenant: Tenant,
) -> None:
    """Revoke a client: it gets no more tokens, and its tokens stop working within seconds."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        clients_service.revoke_client(session, tenant_row, client_id, _cli_actor(tenant_row.id))
        out.print(f"revoked {client_id}")


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
    """Change a tenant's settings."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant = tenants_service.get_tenant_by_slug(session, slug)
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
    kind: bearer_secrets.SecretKind[Any],
    tenant: str,
    name: str,
    expires_at: datetime | None,
    as_json: bool,
    *,
    field: str,
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
            expires_at=expires_at,
        )
        if as_json:
            printed = {field: issued.secret}
            if issued.record.expires_at:
                printed["expires_at"] = _when(issued.record.expires_at)
            typer.echo(json.dumps(printed))
        else:
            out.print(f"id: {issued.record.id}")
            out.print(f"{field}: {issued.secret}")
            out.print(f"expires: {_when(issued.record.expires_at, 'never')}")
            out.print(f"The {kind.label} is shown only now; rosterd keeps only its hash.")


def _secret_table(records: Sequence[TenantSecret]) -> None:
    table = Table(
        _id_column("id"),
        "name",
        *map(_time_column, ("created", "expires", "last used", "revoked")),
    )
    for t in records:
        table.add_row(
            str(t.id),
            t.name,
            _when(t.created_at),
            _when(t.expires_at),
            _when(t.last_used_at, "never"),
            _when(t.revoked_at),
        )
    out.print(table)


def _revoke_secret(kind: bearer_secrets.SecretKind[Any], secret_id: str, tenant: str) -> None:
    parsed = _parse_uuid(secret_id)
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        bearer_secrets.revoke(session, kind, tenant_row, parsed, _cli_actor(tenant_row.id))
        out.print(f"revoked {parsed}")


@scim_app.command("create")
def scim_tokens_create(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="A label, e.g. the IdP it is for.")] = "scim",
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Issue a SCIM token and print it once."""
    expiry = _expiry(expires_in, expires_at)
    _issue_secret(scim_tokens_service.KIND, tenant, name, expiry, as_json, field="token")


@scim_app.command("list")
def scim_tokens_list(tenant: Tenant) -> None:
    """List a tenant's SCIM tokens with their expiry and last use (never the tokens)."""
    with _runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        _secret_table(scim_tokens_service.list_tokens(session, tenant_row))


@scim_app.command("revoke")
def scim_tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `scim-tokens list`).")],
    tenant: Tenant,
) -> None:
    """Revoke a SCIM token; IdPs using it get 401 from then on."""
    _revoke_secret(scim_tokens_service.KIND, token_id, tenant)


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
        table = Table(_id_column("username"), "created", "last login")
        for a in admins_service.list_admins(session, tenant_row):
            table.add_row(
                a.username,
                a.created_at.isoformat(timespec="seconds"),
                a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else "never",
            )
        out.print(table)


_ADMIN_NAME = typer.Argument(help="The admin's login name (unique across the server).")


@admins_app.command("unlock")
def admins_unlock(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Lift the login throttles on an admin's account, for every address and on every node."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        admin = admins_service.get(session, username, for_update=True)
        admins_service.unlock(session, admin, _cli_actor(admin.tenant_id))
        out.print(f"unlocked {admin.username}: its failed logins no longer hold it back")


@admins_app.command("reset-password")
def admins_reset_password(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Set a new password, read from stdin or prompted for on a terminal; the admin's tokens
    are revoked and its login throttles lifted."""
    password = _read_password(prompt=True)
    with _runtime() as runtime:
        # Hashed before the transaction begins: argon2 must not hold the database's writer.
        password_hash = admins_service.new_password_hash(password)
        with runtime.db.writer.begin() as session:
            admin = admins_service.get(session, username, for_update=True)
            admins_service.reset_password(
                session, admin, password_hash, _cli_actor(admin.tenant_id)
            )
            out.print(f"new password set for {admin.username}; its tokens are revoked")


@admins_app.command("delete")
def admins_delete(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Delete an admin; the tokens issued to it stop working at once."""
    with _runtime() as runtime, runtime.db.writer.begin() as session:
        admin = admins_service.get(session, username, for_update=True)
        name = admin.username
        admins_service.delete_admin(session, admin, _cli_actor(admin.tenant_id))
        out.print(f"deleted admin {name}")


@api_keys_app.command("create")
def api_keys_create(
    tenant: Tenant,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "api",
    expires_in: ExpiresIn = None,
    expires_at: ExpiresAt = None,
    as_json: AsJson = False,
) -> None:
    """Issue an API key and print it once."""
    expiry = _expiry(expires_in, expires_at)
    _issue_secret(api_keys_service.KIND, tenant, name, expiry, as_json, field="api_key")


@api_keys_app.command("list")
def api_keys_list(tenant: Tenant) -> None:
    """List a tenant's API keys with their expiry and last use (never the keys)."""
    with _runtime() as runtime, runtime.db.reader() as session:
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
def keys_list(tenant: Tenant) -> None:
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
