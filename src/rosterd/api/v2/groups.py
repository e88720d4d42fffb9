"""/integration/v2/groups"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Response, status

from rosterd.api.deps import ReadSession, SearchSession, WriteSession
from rosterd.api.etags import IfMatch, etag, expected_version, with_etag
from rosterd.api.fast_paths import FastPath, endpoint_path
from rosterd.api.routing import api_router
from rosterd.api.v2 import keyset
from rosterd.api.v2.auth import GroupRead, GroupWrite, fast_actor
from rosterd.api.v2.paging import WindowDep, errors
from rosterd.api.v2.schemas import (
    GroupCreate,
    GroupList,
    GroupOut,
    GroupUpdate,
    MemberAdd,
    MemberAdded,
    MemberList,
    MemberOut,
    iso_timestamp,
)
from rosterd.api.wire import Text
from rosterd.auth.scopes import Scope
from rosterd.domain.commands import GroupPatch, NewGroup
from rosterd.services import groups as groups_service
from rosterd.services.errors import invalid_field

router = api_router(prefix="/groups", tags=["Groups"])


@router.get(
    "",
    operation_id="listGroups",
    summary="List Groups",
    response_model=GroupList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def list_groups(
    actor: GroupRead,
    session: SearchSession,
    window: WindowDep,
    query: Annotated[
        Text | None, Query(max_length=255, description="Search by name (partial).")
    ] = None,
    parent_id: Annotated[uuid.UUID | None, Query(alias="parentId")] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=keyset.MAX_LENGTH,
            description="Keyset paging (extension): the `nextCursor` of the previous page, "
            "which a full page read without `offset` or `page` carries. The page after it "
            "starts right after that page's last group, so groups added or deleted "
            "meanwhile make it skip or repeat none. "
            "Not with `offset` or `page`.",
        ),
    ] = None,
) -> dict[str, Any]:
    if cursor is not None and (window.offset or window.page is not None):
        raise invalid_field("cursor", "use either cursor or offset/page, not both")
    groups, total = groups_service.list_groups(
        session,
        actor,
        query=query or None,
        parent_id=parent_id,
        offset=window.offset,
        limit=window.limit,
        after=keyset.group_after(cursor) if cursor is not None else None,
    )
    counts = groups_service.member_counts(session, actor, groups)
    page: dict[str, Any] = {
        "items": [GroupOut.of(g, counts.get(g.id, 0)) for g in groups],
        "totalCount": total,
        **window.envelope(),
    }
    if groups and len(groups) == window.limit and not window.offset and window.page is None:
        page["nextCursor"] = keyset.group_cursor(groups[-1].name, groups[-1].id)
    return page


@router.post(
    "",
    operation_id="createGroup",
    summary="Create a Group",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 409), **with_etag(201)},
)
def create_group(
    body: GroupCreate, actor: GroupWrite, session: WriteSession, response: Response
) -> GroupOut:
    group = groups_service.create_group(
        session,
        actor,
        NewGroup(name=body.name, description=body.description, parent_id=body.parent_id),
    )
    response.headers["ETag"] = etag(group.version)
    return GroupOut.of(group, 0)


@router.get(
    "/{groupId}",
    operation_id="getGroup",
    summary="Get a Group",
    response_model=GroupOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 404), **with_etag(200)},
)
def get_group(
    groupId: uuid.UUID,  # noqa: N803
    actor: GroupRead,
    session: ReadSession,
    response: Response,
) -> GroupOut:
    group = groups_service.get_group(session, actor, groupId)
    counts = groups_service.member_counts(session, actor, [group])
    response.headers["ETag"] = etag(group.version)
    return GroupOut.of(group, counts.get(group.id, 0))


@router.patch(
    "/{groupId}",
    operation_id="updateGroup",
    summary="Update a Group",
    description="Only the fields sent change; `parentId: null` makes the group top-level. "
    "A parent that would create a cycle is refused.",
    response_model=GroupOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 404, 409, 412), **with_etag(200)},
)
def update_group(
    groupId: uuid.UUID,  # noqa: N803
    body: GroupUpdate,
    actor: GroupWrite,
    session: WriteSession,
    response: Response,
    if_match: IfMatch = None,
) -> GroupOut:
    group = groups_service.lock_group(session, actor, groupId, version=expected_version(if_match))
    groups_service.update_group(
        session, actor, group, GroupPatch(**body.model_dump(exclude_unset=True))
    )
    counts = groups_service.member_counts(session, actor, [group])
    response.headers["ETag"] = etag(group.version)
    return GroupOut.of(group, counts.get(group.id, 0))


@router.delete(
    "/{groupId}",
    operation_id="deleteGroup",
    summary="Delete a Group",
    description="Deletes the group and its memberships; its child groups move up to its parent.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404, 412),
)
def delete_group(
    groupId: uuid.UUID,  # noqa: N803
    actor: GroupWrite,
    session: WriteSession,
    if_match: IfMatch = None,
) -> Response:
    group = groups_service.lock_group(session, actor, groupId, version=expected_version(if_match))
    groups_service.delete_group(session, actor, group)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{groupId}/members",
    operation_id="listGroupMembers",
    summary="List Group Members",
    response_model=MemberList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def list_members(
    groupId: uuid.UUID,  # noqa: N803
    actor: GroupRead,
    session: SearchSession,
    window: WindowDep,
) -> dict[str, Any]:
    users, total = groups_service.list_members(
        session, actor, groupId, offset=window.offset, limit=window.limit
    )
    items = [MemberOut.of_member(user, expires_at) for user, expires_at in users]
    return {"items": items, "totalCount": total, **window.envelope()}


@router.post(
    "/{groupId}/members",
    operation_id="addGroupMember",
    summary="Add a Member to a Group",
    status_code=status.HTTP_201_CREATED,
    description="`expiresAt` (extension) makes the membership end then: the scheduler "
    "removes it. A user already a member is a conflict, whatever its expiry.",
    response_model=MemberAdded,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 409, 422),
)
def add_member(
    groupId: uuid.UUID,  # noqa: N803
    body: MemberAdd,
    actor: GroupWrite,
    session: WriteSession,
) -> MemberAdded:
    added_at = groups_service.add_member(session, actor, groupId, body.user_id, body.expires_at)
    return MemberAdded(
        groupId=str(groupId),
        userId=str(body.user_id),
        addedAt=iso_timestamp(added_at) or "",
        expiresAt=iso_timestamp(body.expires_at),
    )


@router.delete(
    "/{groupId}/members/{userId}",
    operation_id="removeGroupMember",
    summary="Remove a Member from a Group",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404),
)
def remove_member(
    groupId: uuid.UUID,  # noqa: N803
    userId: uuid.UUID,  # noqa: N803
    actor: GroupWrite,
    session: WriteSession,
) -> Response:
    groups_service.remove_member(session, actor, groupId, userId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# The operations of this module with a fast path, by their paths under the v2 prefix.
FAST_PATHS = (
    FastPath(
        "POST",
        "/groups/{groupId:uuid}/members",
        endpoint_path(
            add_member, fast_actor(Scope.group_write), body=("body", MemberAdd), status_code=201
        ),
    ),
)
