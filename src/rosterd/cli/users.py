"""``rosterd users …``: users of the tenant of the login profile, over the REST v2 API."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

import typer

from rosterd.cli import output, remote
from rosterd.cli.output import AsJson, Limit, id_column, time_column
from rosterd.cli.values import parse_instant, when
from rosterd.client import OffboardResult, User

users_app = typer.Typer(help="Users of the server's tenant (remote: uses the login profile).")

UserRef = Annotated[str, typer.Argument(help="The user's id, email address or username.")]
Instant = Annotated[
    datetime | None,
    typer.Option(parser=parse_instant, metavar="ISO-8601", show_default=False),
]
ListStatus = Literal["pending", "active", "suspended", "inactive"]


def show_users(users: Iterable[User], as_json: bool) -> None:
    """Users as a table for people, or ``{"items": [...]}`` for scripts."""
    if as_json:
        output.print_items(users)
        return
    output.table(
        id_column("id"),
        "email",
        "name",
        "status",
        "role",
        "team",
        time_column("last login"),
        rows=(
            (
                u.id,
                u.email or "",
                " ".join(filter(None, (u.first_name, u.last_name))),
                u.status,
                u.role_name or "",
                u.team_name or "",
                when(u.last_login_at, "never"),
            )
            for u in users
        ),
    )


def show_user(user: User, as_json: bool) -> None:
    if as_json:
        output.print_object(user)
        return
    fields = output.plain(user)
    fields.pop("etag", None)
    output.table(
        "field", "value", rows=((k, "" if v is None else str(v)) for k, v in fields.items())
    )


@users_app.command("list")
def users_list(
    status: Annotated[ListStatus | None, typer.Option(help="Only users in this status.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Words matched against names, email and username.")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Only the user with this email.")] = None,
    group: Annotated[str | None, typer.Option(help="Only members of this group.")] = None,
    created_after: Instant = None,
    created_before: Instant = None,
    last_login_before: Instant = None,
    newest_first: Annotated[bool, typer.Option(help="Newest users first.")] = False,
    limit: Limit = None,
    as_json: AsJson = False,
) -> None:
    """List users, in creation order, read page by page (keyset cursors, so users changed
    meanwhile are skipped or repeated by none)."""
    with remote.connect() as client:
        group_id = remote.find_group(client, group).id if group else None
        found = client.users.list(
            status=status,
            query=search,
            email=email,
            group_id=group_id,
            created_after=created_after,
            created_before=created_before,
            last_login_before=last_login_before,
            newest_first=newest_first,
            page_size=min(limit or 100, 100),
        )
        show_users(list(itertools.islice(found, limit)), as_json)


@users_app.command("get")
def users_get(user: UserRef, as_json: AsJson = False) -> None:
    """Show one user."""
    with remote.connect() as client:
        show_user(remote.find_user(client, user), as_json)


Text = Annotated[str | None, typer.Option(show_default=False)]


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Unique in the tenant.")],
    first_name: Annotated[str, typer.Option()],
    last_name: Annotated[str, typer.Option()],
    username: Annotated[str | None, typer.Option(help="Login name; else the email.")] = None,
    display_name: Text = None,
    title: Text = None,
    department: Text = None,
    locale: Text = None,
    role_id: Text = None,
    team_id: Text = None,
    group: Annotated[
        list[str] | None, typer.Option(help="A group (id or name) to join; repeat for more.")
    ] = None,
    status: Annotated[Literal["pending", "active"] | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """Create a user (exit code 5 when the email or username is taken)."""
    fields: dict[str, Any] = {
        "username": username,
        "display_name": display_name,
        "title": title,
        "department": department,
        "locale": locale,
        "role_id": role_id,
        "team_id": team_id,
        "status": status,
    }
    with remote.connect() as client:
        if group:
            fields["group_ids"] = [remote.find_group(client, g).id for g in group]
        given = {k: v for k, v in fields.items() if v is not None}
        user = client.users.create(email=email, first_name=first_name, last_name=last_name, **given)
        show_user(user, as_json)


@users_app.command("update")
def users_update(
    user: UserRef,
    email: Text = None,
    first_name: Text = None,
    last_name: Text = None,
    username: Text = None,
    display_name: Text = None,
    title: Text = None,
    department: Text = None,
    locale: Text = None,
    role_id: Text = None,
    team_id: Text = None,
    status: Annotated[
        Literal["active", "suspended", "inactive"] | None, typer.Option(show_default=False)
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Change the attributes given; the others stay. Refused with exit code 5 if someone
    changed the user between this command's read and its write."""
    given: dict[str, Any] = {
        k: v
        for k, v in {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "display_name": display_name,
            "title": title,
            "department": department,
            "locale": locale,
            "role_id": role_id,
            "team_id": team_id,
            "status": status,
        }.items()
        if v is not None
    }
    if not given:
        output.fail("give at least one attribute to change", output.ExitCode.USAGE)
    with remote.connect() as client:
        found = remote.find_user(client, user)
        show_user(client.users.update(found.id, if_match=found.etag, **given), as_json)


@users_app.command("deactivate")
def users_deactivate(user: UserRef, as_json: AsJson = False) -> None:
    """Set a user's status to inactive (memberships stay; see `offboard`)."""
    with remote.connect() as client:
        done = client.users.deactivate(remote.find_user(client, user).id)
        if as_json:
            output.print_object(done)
        else:
            output.err.print(f"deactivated {done.email or done.username} ({done.id})")


def _show_offboarding(done: OffboardResult, as_json: bool) -> None:
    if as_json:
        output.print_object(done)
        return
    if not done.changed:
        output.err.print(f"{done.user_id} was already offboarded: nothing changed")
        return
    removed = ", ".join(g.name for g in done.groups_removed) or "none"
    output.err.print(
        f"offboarded {done.user_id}: status {done.status}; groups removed: {removed}; "
        f"sessions ended: {done.sessions_ended}"
    )


@users_app.command("offboard")
def users_offboard(
    user: UserRef,
    reassign_to: Annotated[
        str | None, typer.Option(help="Who takes over the teams the user manages.")
    ] = None,
    keep_groups: Annotated[bool, typer.Option(help="Keep the group memberships.")] = False,
    as_json: AsJson = False,
) -> None:
    """Deactivate a user, remove their group memberships and end their sessions in one step;
    harmless to repeat."""
    with remote.connect() as client:
        target = remote.find_user(client, user)
        heir = remote.find_user(client, reassign_to).id if reassign_to else None
        done = client.users.offboard(target.id, reassign_to=heir, keep_groups=keep_groups)
        _show_offboarding(done, as_json)
