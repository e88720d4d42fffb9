"""Groups, roles and teams: /admin/groups (the tree by parent, keyset pages in name order),
/admin/groups/{id} (its members, paged by keyset, added and removed), /admin/roles and
/admin/teams (with their member counts and the team's manager), each paged by keyset in
name order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Form, Query, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, RuntimeDep, SearchSession
from rosterd.api.v2 import keyset
from rosterd.console.pages import page, router, write_then_back
from rosterd.console.session import PREFIX, FormAdmin, SignedInAdmin
from rosterd.repositories.text_columns import utc_of_text
from rosterd.repositories.users import UserQuery
from rosterd.runtime import Runtime
from rosterd.services import groups as groups_service
from rosterd.services import roles as roles_service
from rosterd.services import teams as teams_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, NotFound, invalid_field

PAGE_SIZE = 50
Cursor = Annotated[str | None, Query(max_length=keyset.MAX_LENGTH)]


@router.get("/groups")
def groups_page(
    request: Request,
    admin: SignedInAdmin,
    session: SearchSession,
    q: Annotated[str, Query(max_length=255)] = "",
    parent: uuid.UUID | None = None,
    cursor: Cursor = None,
) -> Response:
    """The top of the tree, a group's subgroups (``parent``), or the groups whose name
    holds ``q``; each with its member count."""
    parent_group = groups_service.get_group(session, admin.actor, parent) if parent else None
    groups, total = groups_service.list_groups(
        session,
        admin.actor,
        query=q.strip() or None,
        parent_id=parent,
        roots_only=parent is None and not q.strip(),
        limit=PAGE_SIZE,
        after=keyset.group_after(cursor) if cursor else None,
    )
    counts = groups_service.member_counts(session, admin.actor, groups)
    next_cursor = (
        keyset.group_cursor(groups[-1].name, groups[-1].id) if len(groups) == PAGE_SIZE else None
    )
    return page(
        request,
        "groups.html",
        admin,
        groups=groups,
        counts=counts,
        total=total,
        parent=parent_group,
        q=q,
        next_cursor=next_cursor,
    )


@router.get("/groups/{group_id}")
def group_page(
    request: Request,
    group_id: uuid.UUID,
    admin: SignedInAdmin,
    session: SearchSession,
    cursor: Cursor = None,
) -> Response:
    group = groups_service.get_group(session, admin.actor, group_id)
    parent = (
        groups_service.get_group(session, admin.actor, group.parent_id) if group.parent_id else None
    )
    members, _ = users_service.list_user_rows(
        session,
        admin.actor,
        UserQuery(
            group_id=group_id,
            sort_by="createdAt",
            limit=PAGE_SIZE,
            after=keyset.user_after(cursor) if cursor else None,
        ),
    )
    next_cursor = None
    if len(members) == PAGE_SIZE:
        last = members[-1]
        next_cursor = keyset.user_cursor(utc_of_text(last.created_at), uuid.UUID(last.id))
    count = groups_service.member_counts(session, admin.actor, [group]).get(group.id, 0)
    return page(
        request,
        "group.html",
        admin,
        group=group,
        parent=parent,
        members=members,
        member_count=count,
        next_cursor=next_cursor,
    )


def _user_named(session: Session, actor: Actor, name: str) -> uuid.UUID:
    """The user whose username, or else email, is ``name`` (exactly, case-insensitively)."""
    for query in (UserQuery(username=name, limit=1), UserQuery(email=name, limit=2)):
        rows, _ = users_service.list_user_rows(session, actor, query)
        if len(rows) == 1:
            return uuid.UUID(rows[0].id)
    raise invalid_field("user", f"no user with the username or email {name!r}")


async def _write_group(
    runtime: Runtime, group_id: uuid.UUID, work: Callable[[Session], object], notice: str
) -> Response:
    return await write_then_back(runtime, f"{PREFIX}/groups/{group_id}", work, notice)


@router.post("/groups/{group_id}/members")
async def add_member(
    group_id: uuid.UUID,
    admin: FormAdmin,
    runtime: RuntimeDep,
    user: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    def add(session: Session) -> None:
        groups_service.get_group(session, admin.actor, group_id)
        user_id = _user_named(session, admin.actor, user.strip())
        groups_service.add_member(session, admin.actor, group_id, user_id)

    return await _write_group(runtime, group_id, add, f"Added {user.strip()}.")


def leave_group(session: Session, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Remove the user from the group, both of the admin's tenant (else a 404 page). A user
    who is no longer a member (another admin removed them first, or offboarded them) is
    said on the page the form came from rather than being a 404."""
    groups_service.get_group(session, actor, group_id)
    users_service.get_user(session, actor, user_id)
    try:
        groups_service.remove_member(session, actor, group_id, user_id)
    except NotFound as exc:
        raise Conflict(f"{exc} (any more)") from exc


@router.post("/groups/{group_id}/members/{user_id}/remove")
async def remove_member(
    group_id: uuid.UUID, user_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep
) -> Response:
    def remove(session: Session) -> None:
        leave_group(session, admin.actor, group_id, user_id)

    return await _write_group(runtime, group_id, remove, "Removed the member.")


@router.get("/roles")
def roles_page(
    request: Request, admin: SignedInAdmin, session: ReadSession, cursor: Cursor = None
) -> Response:
    """The roles in name order, a keyset page at a time."""
    roles = roles_service.page_roles(
        session, admin.actor, after=keyset.group_after(cursor) if cursor else None, limit=PAGE_SIZE
    )
    counts = roles_service.user_counts(session, admin.actor, roles)
    next_cursor = (
        keyset.group_cursor(roles[-1].name, roles[-1].id) if len(roles) == PAGE_SIZE else None
    )
    return page(request, "roles.html", admin, roles=roles, counts=counts, next_cursor=next_cursor)


@router.get("/teams")
def teams_page(
    request: Request, admin: SignedInAdmin, session: ReadSession, cursor: Cursor = None
) -> Response:
    """The teams in name order with their managers, a keyset page at a time."""
    teams = teams_service.page_teams(
        session, admin.actor, after=keyset.group_after(cursor) if cursor else None, limit=PAGE_SIZE
    )
    counts = teams_service.member_counts(session, admin.actor, teams)
    next_cursor = (
        keyset.group_cursor(teams[-1].name, teams[-1].id) if len(teams) == PAGE_SIZE else None
    )
    return page(request, "teams.html", admin, teams=teams, counts=counts, next_cursor=next_cursor)
