"""/api/v1/groups (seed 004, and what pysisense calls)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from rosterd.api.deps import RuntimeDep, SearchSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v1 import streaming
from rosterd.api.v1.auth import ApiV1Actor
from rosterd.api.v1.schemas import (
    BULK_LIMITS,
    BULK_RESPONSES,
    MAX_BULK_ITEMS,
    GroupCreate,
    GroupUpdate,
    group_out,
    member_out,
)
from rosterd.api.wire import Text
from rosterd.domain.commands import GroupPatch, NewGroup
from rosterd.models import Group
from rosterd.services import groups as groups_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, NotFound, invalid_field

router = api_router(prefix="/api/v1/groups", tags=["API v1"])

UNBOUNDED = 1_000_000


def _parse_id(group_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(group_id)
    except ValueError as exc:
        raise NotFound(f"group {group_id!r} not found") from exc


def _render(
    session: Session, actor: Actor, groups: list[Group], *, with_users: bool
) -> list[dict[str, Any]]:
    if not with_users:
        return [group_out(g) for g in groups]
    members = groups_service.members_of_groups(session, actor, [g.id for g in groups])
    everyone = list({uid for ms in members.values() for uid, _ in ms})
    # A chunk's worth of ids a query: a group can have more members than PostgreSQL takes
    # bind parameters in one statement.
    users = {
        u.id: u
        for start in range(0, len(everyone), streaming.CHUNK)
        for u in users_service.get_many(session, actor, everyone[start : start + streaming.CHUNK])
    }
    return [
        group_out(g, [member_out(users[uid]) for uid, _ in members.get(g.id, []) if uid in users])
        for g in groups
    ]


def _with_users(expand: str | None) -> bool:
    parts = {p.strip().lower() for p in (expand or "").split(",") if p.strip()}
    if parts - {"users"}:
        raise invalid_field("expand", "only 'users' can be expanded")
    return "users" in parts


@router.get(
    "",
    operation_id="apiV1ListGroups",
    summary="List groups",
    response_model=list[dict[str, Any]],
)
def list_groups(
    actor: ApiV1Actor,
    session: SearchSession,
    runtime: RuntimeDep,
    name: Annotated[Text | None, Query(max_length=255)] = None,
    expand: Annotated[str | None, Query(max_length=100)] = None,
    skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=UNBOUNDED)] = None,
) -> Response:
    with_users = _with_users(expand)
    if name is not None:
        group = groups_service.find_by_name(session, actor, name)
        found = [group] if group is not None else []
        return streaming.json_items(_render(session, actor, found, with_users=with_users))

    def read(
        session: Session, after: groups_service.GroupKey | None, offset: int, size: int
    ) -> tuple[list[dict[str, Any]], groups_service.GroupKey | None]:
        groups, key = groups_service.groups_chunk(
            session, actor, after=after, offset=offset, size=size
        )
        return _render(session, actor, groups, with_users=with_users), key

    limit = UNBOUNDED if limit is None else limit
    return streaming.json_list(runtime.db, session, read, offset=skip, limit=limit)


@router.get("/{group_id}", operation_id="apiV1GetGroup", summary="Get a group")
def get_group(
    group_id: str,
    actor: ApiV1Actor,
    session: SearchSession,
    expand: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    group = groups_service.get_group(session, actor, _parse_id(group_id))
    return _render(session, actor, [group], with_users=_with_users(expand))[0]


@router.post("", operation_id="apiV1CreateGroup", summary="Create a group", status_code=201)
def create_group(
    body: Annotated[GroupCreate, Body()], actor: ApiV1Actor, session: WriteSession
) -> JSONResponse:
    group = groups_service.create_group(
        session, actor, NewGroup(name=body.name, description=body.description)
    )
    return JSONResponse(group_out(group), status_code=status.HTTP_201_CREATED)


@router.post(
    "/bulk",
    operation_id="apiV1CreateGroupsBulk",
    summary="Create several groups at once (all or nothing)",
    description=BULK_LIMITS,
    status_code=201,
    responses=BULK_RESPONSES,
)
def create_groups_bulk(
    body: Annotated[list[GroupCreate], Body(max_length=MAX_BULK_ITEMS)],
    actor: ApiV1Actor,
    session: WriteSession,
) -> JSONResponse:
    created = []
    for index, item in enumerate(body):
        try:
            created.append(
                groups_service.create_group(
                    session, actor, NewGroup(name=item.name, description=item.description)
                )
            )
        except DomainError as exc:
            raise type(exc)(f"groups[{index}]: {exc.message}", exc.details) from exc
    return JSONResponse([group_out(g) for g in created], status_code=status.HTTP_201_CREATED)


@router.patch("/{group_id}", operation_id="apiV1UpdateGroup", summary="Rename or describe a group")
def update_group(
    group_id: str,
    body: Annotated[GroupUpdate, Body()],
    actor: ApiV1Actor,
    session: WriteSession,
) -> dict[str, Any]:
    group = groups_service.update_group(
        session,
        actor,
        groups_service.lock_group(session, actor, _parse_id(group_id)),
        GroupPatch(**{n: getattr(body, n) for n in body.model_fields_set}),
    )
    return group_out(group)


@router.delete(
    "/{group_id}", operation_id="apiV1DeleteGroup", summary="Delete a group", status_code=204
)
def delete_group(group_id: str, actor: ApiV1Actor, session: WriteSession) -> Response:
    groups_service.delete_group(
        session, actor, groups_service.lock_group(session, actor, _parse_id(group_id))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
