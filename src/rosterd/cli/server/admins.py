"""``rosterd server admins``: the admin users of the /api/v1 login."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from rosterd.cli import output, store
from rosterd.cli.output import id_column
from rosterd.cli.server.options import parse_scopes
from rosterd.services import admins as admins_service
from rosterd.services import tenants as tenants_service

admins_app = typer.Typer(help="Manage admin users (the /api/v1 login).", no_args_is_help=True)


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
    scopes: Annotated[
        list[str] | None,
        typer.Option(
            "--scopes",
            help="The OAuth scopes this admin may grant an app (authorization code flow), "
            "comma- or space-separated. Default: every scope.",
        ),
    ] = None,
) -> None:
    """Create an admin; the password is read from stdin, or prompted for on a terminal."""
    password = _read_password(prompt=True)
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        admin = admins_service.create_admin(
            session,
            tenant_row,
            username=username,
            password=password,
            actor=store.cli_actor(tenant_row.id),
            scopes=parse_scopes(scopes) if scopes else None,
        )
        output.out.print(f"created admin {admin.username} in {tenant_row.slug}")


@admins_app.command("list")
def admins_list(tenant: Annotated[str, typer.Option(help="Tenant slug.")]) -> None:
    """List a tenant's admins."""
    with store.runtime() as runtime, runtime.db.reader() as session:
        tenant_row = tenants_service.get_tenant_by_slug(session, tenant)
        table = Table(id_column("username"), "created", "last login")
        for a in admins_service.list_admins(session, tenant_row):
            table.add_row(
                a.username,
                a.created_at.isoformat(timespec="seconds"),
                a.last_login_at.isoformat(timespec="seconds") if a.last_login_at else "never",
            )
        output.out.print(table)


_ADMIN_NAME = typer.Argument(help="The admin's login name (unique across the server).")


@admins_app.command("unlock")
def admins_unlock(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Lift the login throttles on an admin's account, for every address and on every node."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        admin = admins_service.get(session, username, for_update=True)
        admins_service.unlock(session, admin, store.cli_actor(admin.tenant_id))
        output.out.print(f"unlocked {admin.username}: its failed logins no longer hold it back")


@admins_app.command("reset-password")
def admins_reset_password(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Set a new password, read from stdin or prompted for on a terminal; the admin's tokens
    are revoked and its login throttles lifted."""
    password = _read_password(prompt=True)
    with store.runtime() as runtime:
        # Hashed before the transaction begins: argon2 must not hold the database's writer.
        password_hash = admins_service.new_password_hash(password)
        with runtime.db.writer.begin() as session:
            admin = admins_service.get(session, username, for_update=True)
            admins_service.reset_password(
                session, admin, password_hash, store.cli_actor(admin.tenant_id)
            )
            output.out.print(f"new password set for {admin.username}; its tokens are revoked")


@admins_app.command("delete")
def admins_delete(username: Annotated[str, _ADMIN_NAME]) -> None:
    """Delete an admin; the tokens issued to it stop working at once."""
    with store.runtime() as runtime, runtime.db.writer.begin() as session:
        admin = admins_service.get(session, username, for_update=True)
        name = admin.username
        admins_service.delete_admin(session, admin, store.cli_actor(admin.tenant_id))
        output.out.print(f"deleted admin {name}")
