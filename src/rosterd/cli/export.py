"""``rosterd export``: the tenant's directory as JSON Lines that ``rosterd import`` reads.

The records are those of ``rosterd.services.imports``: groups first, each parent before its
children; then teams; then users with their role, team and groups by name. Export from one
server and import into another (or the same tenant's restore) gives the same directory,
except what the REST v2 API does not show (phone numbers, external ids, passwords).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import Progress

from rosterd.cli import output, remote
from rosterd.client import Client, Group, Team, User

PAGE = 100


def _total(client: Client, path: str) -> int | None:
    """How many rows a listing holds (None when the server does not say)."""
    total = client.request("GET", path, params={"limit": 1}).json().get("totalCount")
    return int(total) if isinstance(total, int) else None


def groups_parents_first(groups: list[Group]) -> list[Group]:
    """``groups`` ordered so that each parent comes before its children (by name within a
    level); a group whose parent is not in the list is taken for a root."""
    ids = {g.id for g in groups}
    children: dict[str | None, list[Group]] = defaultdict(list)
    for g in groups:
        children[g.parent_id if g.parent_id in ids else None].append(g)
    ordered: list[Group] = []
    level = sorted(children[None], key=lambda g: g.name)
    while level:
        ordered.extend(level)
        level = sorted((c for g in level for c in children[g.id]), key=lambda g: g.name)
    return ordered


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None and v != []}


def group_record(group: Group, names: dict[str, str]) -> dict[str, Any]:
    parent = names.get(group.parent_id) if group.parent_id else None
    return _clean(
        {"type": "group", "name": group.name, "description": group.description, "parent": parent}
    )


def team_record(team: Team) -> dict[str, Any]:
    return _clean({"type": "team", "name": team.name, "description": team.description})


def user_record(user: User, groups: list[str]) -> dict[str, Any]:
    return _clean(
        {
            "type": "user",
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "display_name": user.display_name,
            "title": user.title,
            "department": user.department,
            "locale": user.locale,
            "role": user.role_name,
            "team": user.team_name,
            "groups": sorted(groups),
            "last_login_at": output.plain(user).get("lastLoginAt"),
            "status": user.status,
        }
    )


@contextmanager
def _destination(out: Path | None) -> Iterator[IO[str]]:
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8") as fh:
        yield fh


def _write(fh: IO[str], record: dict[str, Any]) -> None:
    fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _memberships(client: Client, groups: list[Group], bar: Progress) -> dict[str, list[str]]:
    """user id → the names of the groups it belongs to."""
    task = bar.add_task("memberships", total=sum(g.member_count for g in groups))
    of_user: dict[str, list[str]] = defaultdict(list)
    for group in groups:
        for member in client.groups.members.list(group.id, page_size=PAGE):
            of_user[member.id].append(group.name)
            bar.advance(task)
    return of_user


def export(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", dir_okay=False, help="Write here instead of stdout.", show_default=False
        ),
    ] = None,
) -> None:
    """Write the tenant's groups, teams and users as JSON Lines that `rosterd import` reads
    (remote: uses the login profile). Progress goes to stderr; stdout holds only records."""
    with remote.connect() as client, output.progress() as bar, _destination(out) as fh:
        task = bar.add_task("groups", total=_total(client, "/integration/v2/groups"))
        groups = []
        for group in client.groups.list(page_size=PAGE):
            groups.append(group)
            bar.advance(task)
        names = {g.id: g.name for g in groups}
        for group in groups_parents_first(groups):
            _write(fh, group_record(group, names))
        task = bar.add_task("teams", total=_total(client, "/integration/v2/teams"))
        teams = 0
        for team in client.teams.list(page_size=PAGE):
            _write(fh, team_record(team))
            bar.advance(task)
            teams += 1
        of_user = _memberships(client, groups, bar)
        task = bar.add_task("users", total=_total(client, "/integration/v2/users"))
        users = 0
        for user in client.users.list(page_size=PAGE):
            _write(fh, user_record(user, of_user.get(user.id, [])))
            bar.advance(task)
            users += 1
    output.err.print(
        f"exported {len(groups)} groups, {teams} teams and {users} users"
        + (f" to {out}" if out else "")
    )
