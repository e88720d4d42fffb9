"""/integration/v2/users"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import Query, Request, Response, status
from sqlalchemy.orm import Session

from rosterd.api.deps import (
    ReadSession,
    RuntimeDep,
    SearchSession,
    WriteSession,
    in_unit_of_work,
)
from rosterd.api.etags import IfMatch, etag, expected_version, with_etag
from rosterd.api.fast_paths import UUID_FORM, FastPath, QueryForm, endpoint_path, query_arguments
from rosterd.api.routing import api_router
from rosterd.api.v2 import keyset
from rosterd.api.v2.auth import GroupRead, GroupWrite, UserRead, UserWrite, fast_actor
from rosterd.api.v2.paging import WindowDep, errors, window
from rosterd.api.v2.schemas import (
    STATUS_FIELDS,
    GroupList,
    GroupOut,
    UserCreate,
    UserGroupsSet,
    UserList,
    UserOut,
    UserUpdate,
)
from rosterd.api.wire import Text
from rosterd.auth.scopes import Scope
from rosterd.db.work import Kind
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import UserStatus
from rosterd.repositories.text_columns import utc_of_text
from rosterd.repositories.users import UserQuery
from rosterd.runtime import Runtime
from rosterd.services import groups as groups_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field

router = api_router(prefix="/users", tags=["Users"])


def _status_from(explicit: str | None, is_active: bool | None, *, field: str) -> UserStatus | None:
    """The status a request asks for. ``isActive`` is the boolean view of status (true is
    active, false is any other status); sent together, they must agree and status decides."""
    if explicit is not None:
        wanted = UserStatus(explicit)
        if is_active is not None and (wanted == UserStatus.active) != is_active:
            raise invalid_field(field, "status and isActive disagree")
        return wanted
    if is_active is None:
        return None
    return UserStatus.active if is_active else UserStatus.inactive


def _utc(moment: datetime | None) -> datetime | None:
    """A time from a query parameter; one without an offset is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get(
    "",
    operation_id="listUsers",
    summary="List Users",
    response_model=UserList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def list_users(
    actor: UserRead,
    session: SearchSession,
    runtime: RuntimeDep,
    window: WindowDep,
    query: Annotated[
        Text | None,
        Query(max_length=255, description="Search by name or email (partial)."),
    ] = None,
    group_id: Annotated[uuid.UUID | None, Query(alias="groupId")] = None,
    role_id: Annotated[uuid.UUID | None, Query(alias="roleId")] = None,
    team_id: Annotated[uuid.UUID | None, Query(alias="teamId")] = None,
    status_: Annotated[UserStatus | None, Query(alias="status")] = None,
    sort_by: Annotated[
        Literal["name", "email", "createdAt", "lastLoginAt"], Query(alias="sortBy")
    ] = "name",
    sort_order: Annotated[Literal["asc", "desc"], Query(alias="sortOrder")] = "asc",
    email: Annotated[
        Text | None,
        Query(
            max_length=320,
            description="Exact email, case-insensitive (extension).",
        ),
    ] = None,
    username: Annotated[
        Text | None,
        Query(
            max_length=255,
            description="Exact username, case-insensitive (extension).",
        ),
    ] = None,
    is_active: Annotated[
        bool | None,
        Query(
            alias="isActive",
            description="true: active users; false: every other status (extension).",
        ),
    ] = None,
    last_login_before: Annotated[
        datetime | None,
        Query(
            alias="lastLoginBefore",
            description="Users last signed in before this time, or never signed in, as idle "
            "users are (extension; a time without an offset is UTC).",
        ),
    ] = None,
    last_login_after: Annotated[
        datetime | None,
        Query(
            alias="lastLoginAfter",
            description="Users last signed in at or after this time (extension).",
        ),
    ] = None,
    created_before: Annotated[
        datetime | None,
        Query(alias="createdBefore", description="Users created before this time (extension)."),
    ] = None,
    created_after: Annotated[
        datetime | None,
        Query(alias="createdAfter", description="Users created at or after this time (extension)."),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            max_length=keyset.MAX_LENGTH,
            description="Keyset paging (extension): the `nextCursor` of the previous page. "
            "With `sortBy=createdAt`, a full page read without `offset` or `page` carries "
            "`nextCursor`; the page after it "
            "starts right after that page's last user, so users changed, added or deleted "
            "meanwhile make it skip or repeat nobody. Needs `sortBy=createdAt`; not with "
            "`offset` or `page`.",
        ),
    ] = None,
) -> Response:
    if cursor is not None and sort_by != "createdAt":
        raise invalid_field("cursor", "pages by cursor in creation order: send sortBy=createdAt")
    if cursor is not None and (window.offset or window.page is not None):
        raise invalid_field("cursor", "use either cursor or offset/page, not both")
    rows, total = users_service.list_user_rows(
        session,
        actor,
        UserQuery(
            search=query or None,
            group_id=group_id,
            role_id=role_id,
            team_id=team_id,
            status=_status_from(status_.value, is_active, field="status") if status_ else None,
            is_active=is_active,
            email=email,
            username=username,
            last_login_before=_utc(last_login_before),
            last_login_after=_utc(last_login_after),
            created_before=_utc(created_before),
            created_after=_utc(created_after),
            sort_by=sort_by,
            descending=sort_order == "desc",
            offset=window.offset,
            limit=window.limit,
            after=keyset.user_after(cursor) if cursor is not None else None,
            count_up_to=runtime.settings.search_exact_total_limit,
        ),
    )
    page: dict[str, Any] = {
        "items": [UserOut.wire_of_listing(row) for row in rows],
        "totalCount": total.value,
    }
    if total.estimated:
        page["totalCountIsEstimate"] = True
    keyset_page = sort_by == "createdAt" and not window.offset and window.page is None
    if keyset_page and rows and len(rows) == window.limit:
        last = rows[-1]
        page["nextCursor"] = keyset.user_cursor(utc_of_text(last.created_at), uuid.UUID(last.id))
    # As for GET by id, the rows go to the wire as dicts through orjson: response_model
    # above still publishes the schema, and nothing validates the page a second time (that
    # took most of a 100-user page's CPU).
    return Response(orjson.dumps({**page, **window.envelope()}), media_type="application/json")


@router.post(
    "",
    operation_id="createUser",
    summary="Create a User",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 409, 422), **with_etag(201)},
)
def create_user(
    body: UserCreate, actor: UserWrite, session: WriteSession, response: Response
) -> UserOut:
    status_ = _status_from(body.status, body.is_active, field="is_active") or UserStatus.active
    user = users_service.create_user(
        session, actor, NewUser(**body.model_dump(exclude=STATUS_FIELDS), status=status_)
    )
    response.headers["ETag"] = etag(user.version)
    return UserOut.of(user)


# The list's parameters its fast path takes, in the spellings it takes: anything else
# (other parameters, percent-encoded or repeated ones, a search with other characters) goes
# to the route.
_LIST_FORMS = {
    "status": QueryForm("status_", re.compile("|".join(s.value for s in UserStatus)), UserStatus),
    "isActive": QueryForm("is_active", re.compile("true|false"), lambda v: v == "true"),
    "sortBy": QueryForm("sort_by", re.compile("name|email|createdAt|lastLoginAt")),
    "sortOrder": QueryForm("sort_order", re.compile("asc|desc")),
    "limit": QueryForm("limit", re.compile(r"100|[1-9]?\d"), int),
    "offset": QueryForm("offset", re.compile(r"0|[1-9]\d{0,5}"), int),
    "query": QueryForm("query", re.compile(r"[A-Za-z0-9@._-]{1,100}")),
    "groupId": QueryForm("group_id", re.compile(UUID_FORM), uuid.UUID),
    "roleId": QueryForm("role_id", re.compile(UUID_FORM), uuid.UUID),
    "teamId": QueryForm("team_id", re.compile(UUID_FORM), uuid.UUID),
}


async def list_users_fast(request: Request, params: Mapping[str, Any]) -> Response | None:
    """``list_users`` on its fast path (rosterd.api.fast_paths)."""
    arguments = query_arguments(request.scope["query_string"], _LIST_FORMS)
    if arguments is None:
        return None
    actor = await _user_reader(request)
    if actor is None:
        return None
    runtime: Runtime = request.app.state.runtime
    paging = await window(offset=arguments.pop("offset", None), limit=arguments.pop("limit", None))
    return await in_unit_of_work(
        runtime,
        Kind.SLOW_READ,
        lambda session: list_users(
            actor=actor, session=session, runtime=runtime, window=paging, **arguments
        ),
    )


@router.get(
    "/{userId}",
    operation_id="getUser",
    summary="Get a User",
    response_model=UserOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 404), **with_etag(200)},
)
async def get_user(userId: uuid.UUID, actor: UserRead, runtime: RuntimeDep) -> Response:  # noqa: N803
    return await _user_listing(runtime, actor, userId)


_user_reader = fast_actor(Scope.user_read)


async def get_user_fast(request: Request, params: Mapping[str, Any]) -> Response | None:
    """``get_user`` on its fast path (rosterd.api.fast_paths)."""
    actor = await _user_reader(request)
    if actor is None:
        return None
    return await _user_listing(request.app.state.runtime, actor, params["userId"])


async def _user_listing(runtime: Runtime, actor: Actor, user_id: uuid.UUID) -> Response:
    # A point read on the driver's connection, and the row goes to the wire as a dict
    # through orjson: response_model above still publishes the schema, and returning a
    # Response skips validating what the store just gave.
    row = await runtime.work.read_point(
        lambda db: users_service.get_user_listing(db, actor, user_id)
    )
    return Response(
        orjson.dumps(UserOut.wire_of_listing(row)),
        media_type="application/json",
        headers={"ETag": etag(row.version)},
    )


@router.patch(
    "/{userId}",
    operation_id="updateUser",
    summary="Update a User",
    description="Only the fields sent change. `status` (or `isActive`) moves the user between "
    "active, suspended and inactive. `validFrom` and `expiresAt` (extensions) schedule its "
    "activation and deactivation; made active by hand before its `validFrom`, a user's "
    "`validFrom` becomes now.",
    response_model=UserOut,
    response_model_exclude_none=True,
    responses={**errors(400, 401, 403, 404, 409, 412, 422), **with_etag(200)},
)
def update_user(
    userId: uuid.UUID,  # noqa: N803
    body: UserUpdate,
    actor: UserWrite,
    session: WriteSession,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    changes = body.model_dump(exclude_unset=True, exclude=STATUS_FIELDS)
    new_status = _status_from(body.status, body.is_active, field="status")
    if new_status is not None:
        changes["status"] = new_status
    user = users_service.update_user(
        session, actor, userId, UserPatch(**changes), expected_version=expected_version(if_match)
    )
    response.headers["ETag"] = etag(user.version)
    return UserOut.of(user)


@router.delete(
    "/{userId}",
    operation_id="deleteUser",
    summary="Delete a User",
    description="Deactivates and removes the user. Teams the user manages pass to `reassignTo`.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404, 412),
)
def delete_user(
    userId: uuid.UUID,  # noqa: N803
    actor: UserWrite,
    session: WriteSession,
    reassign_to: Annotated[uuid.UUID | None, Query(alias="reassignTo")] = None,
    if_match: IfMatch = None,
) -> Response:
    users_service.delete_user(
        session, actor, userId, reassign_to, expected_version=expected_version(if_match)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _groups_out(session: Session, actor: Any, groups: list[Any]) -> list[GroupOut]:
    counts = groups_service.member_counts(session, actor, groups)
    return [GroupOut.of(g, counts.get(g.id, 0)) for g in groups]


@router.get(
    "/{userId}/groups",
    operation_id="getUserGroups",
    summary="Get User Groups",
    tags=["Groups"],
    response_model=GroupList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def get_user_groups(
    userId: uuid.UUID,  # noqa: N803
    actor: GroupRead,
    session: ReadSession,
) -> dict[str, Any]:
    groups = users_service.groups_of_user(session, actor, userId)
    return {"items": _groups_out(session, actor, groups), "totalCount": len(groups)}


@router.put(
    "/{userId}/groups",
    operation_id="setUserGroups",
    summary="Set User Group Memberships",
    tags=["Groups"],
    response_model=GroupList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def set_user_groups(
    userId: uuid.UUID,  # noqa: N803
    body: UserGroupsSet,
    actor: GroupWrite,
    session: WriteSession,
) -> dict[str, Any]:
    groups = users_service.set_user_groups(session, actor, userId, body.group_ids)
    return {"items": _groups_out(session, actor, groups), "totalCount": len(groups)}


# The operations of this module with a fast path, by their paths under the v2 prefix.
_user_writer = fast_actor(Scope.user_write)
FAST_PATHS = (
    FastPath("GET", "/users", list_users_fast),
    FastPath("GET", "/users/{userId:uuid}", get_user_fast),
    FastPath(
        "POST",
        "/users",
        endpoint_path(create_user, _user_writer, body=("body", UserCreate), status_code=201),
    ),
    FastPath(
        "PATCH",
        "/users/{userId:uuid}",
        endpoint_path(update_user, _user_writer, body=("body", UserUpdate)),
    ),
    FastPath("DELETE", "/users/{userId:uuid}", endpoint_path(delete_user, _user_writer)),
)
