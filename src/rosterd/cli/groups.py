"""``rosterd groups …``: groups and their members, over the REST v2 API."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Annotated

import typer

from rosterd.cli import output, remote
from rosterd.cli.output import AsJson, Limit, id_column
from rosterd.cli.users import show_users
from rosterd.client import Group

groups_app = typer.Typer(help="Groups of the server's tenant (remote: uses the login profile).")
members_app = typer.Typer(help="A group's members.", no_args_is_help=True)
groups_app.add_typer(members_app, name="members")

GroupRef = Annotated[str, typer.Argument(help="The group's id or name.")]
UserRefs = Annotated[list[str], typer.Argument(help="Users: ids, email addresses or usernames.")]


def _show_groups(groups: Iterable[Group], as_json: bool) -> None:
    if as_json:
        output.print_items(groups)
        return
    output.table(
        id_column("id"),
        "name",
        "members",
        id_column("parent"),
        "description",
        rows=(
            (g.id, g.name, str(g.member_count), g.parent_id or "", g.description or "")
            for g in groups
        ),
    )


def _show_group(group: Group, as_json: bool) -> None:
    if as_json:
        output.print_object(group)
    else:
        _show_groups([group], as_json=False)


@groups_app.command("list")
def groups_list(
    search: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
    parent: Annotated[str | None, typer.Option(help="Only children of this group.")] = None,
    limit: Limit = None,
    as_json: AsJson = False,
) -> None:
    """List groups in name order."""
    with remote.connect() as client:
        parent_id = remote.find_group(client, parent).id if parent else None
        found = client.groups.list(
            query=search, parent_id=parent_id, page_size=min(limit or 100, 100)
        )
        _show_groups(list(itertools.islice(found, limit)), as_json)


@groups_app.command("get")
def groups_get(group: GroupRef, as_json: AsJson = False) -> None:
    """Show one group."""
    with remote.connect() as client:
        _show_group(remote.find_group(client, group), as_json)


@groups_app.command("create")
def groups_create(
    name: Annotated[str, typer.Argument(help="Unique in the tenant.")],
    description: Annotated[str | None, typer.Option()] = None,
    parent: Annotated[str | None, typer.Option(help="The parent group (id or name).")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a group (exit code 5 when the name is taken)."""
    with remote.connect() as client:
        parent_id = remote.find_group(client, parent).id if parent else None
        made = client.groups.create(name=name, description=description, parent_id=parent_id)
        _show_group(made, as_json)


@members_app.command("list")
def members_list(group: GroupRef, limit: Limit = None, as_json: AsJson = False) -> None:
    """List a group's members."""
    with remote.connect() as client:
        found = client.groups.members.list(
            remote.find_group(client, group).id, page_size=min(limit or 100, 100)
        )
        show_users(list(itertools.islice(found, limit)), as_json)


@members_app.command("add")
def members_add(group: GroupRef, users: UserRefs) -> None:
    """Add users to a group (exit code 5 if one is a member already; those before it are
    added)."""
    with remote.connect() as client:
        target = remote.find_group(client, group)
        for ref in users:
            user = remote.find_user(client, ref)
            client.groups.members.add(target.id, user.id)
            output.err.print(f"added {user.email or user.username} to {target.name}")


@members_app.command("remove")
def members_remove(group: GroupRef, users: UserRefs) -> None:
    """Remove users from a group."""
    with remote.connect() as client:
        target = remote.find_group(client, group)
        for ref in users:
            user = remote.find_user(client, ref)
            client.groups.members.remove(target.id, user.id)
            output.err.print(f"removed {user.email or user.username} from {target.name}")
