"""/api/v1/users (seed 004), and the two /api/users paths pysisense also calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Query, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, RuntimeDep, SearchSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v1 import streaming
from rosterd.api.v1.auth import ApiV1Actor
from rosterd.api.v1.schemas import (
    BULK_LIMITS,
    BULK_RESPONSES,
    MAX_BULK_ITEMS,
    NOT_USER_FIELDS,
    WIRE_NAMES,
    PasswordChange,
    UserCreate,
    UserUpdate,
    user_out,
)
from rosterd.api.wire import Text, wire_message
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import User, UserStatus
from rosterd.repositories.users import UserQuery
from rosterd.services import tenants as tenants_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, NotFound, invalid_field

router = api_router(prefix="/api/v1/users", tags=["API v1"])
legacy = api_router(prefix="/api/users", tags=["API v1"])

# Without skip/limit the whole directory comes back, as Sisense does and pysisense expects.
UNBOUNDED = 1_000_000


def _expand(expand: str | None) -> tuple[bool, bool]:
    parts = {p.strip().lower() for p in (expand or "").split(",") if p.strip()}
    unknown = parts - {"groups", "role"}
    if unknown:
        raise invalid_field("expand", f"unknown expansion(s): {', '.join(sorted(unknown))}")
    return "groups" in parts, "role" in parts


def _render(
    session: Session, actor: Actor, users: list[User], expand: tuple[bool, bool] = (False, False)
) -> list[dict[str, Any]]:
    groups = users_service.groups_of_users(session, actor, [u.id for u in users])
    return [
        user_out(u, groups.get(u.id, []), expand_groups=expand[0], expand_role=expand[1])
        for u in users
    ]


def _parse_id(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError as exc:
        raise NotFound(f"user {user_id!r} not found") from exc


@router.get(
    "",
    operation_id="apiV1ListUsers",
    summary="List users",
    response_model=list[dict[str, Any]],
)
def list_users(
    actor: ApiV1Actor,
    session: SearchSession,
    runtime: RuntimeDep,
    skip: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=UNBOUNDED)] = None,
    expand: Annotated[str | None, Query(max_length=100)] = None,
    email: Annotated[Text | None, Query(max_length=320)] = None,
    user_name: Annotated[Text | None, Query(alias="userName", max_length=255)] = None,
    active: bool | None = None,
    last_login_before: Annotated[
        datetime | None,
        Query(
            alias="lastLoginBefore",
            description="Users idle since before this time (never logged in included).",
        ),
    ] = None,
) -> Response:
    if last_login_before is not None and last_login_before.tzinfo is None:
        # A timestamp without an offset is UTC, as every timestamp this API returns is.
        last_login_before = last_login_before.replace(tzinfo=UTC)
    expansions = _expand(expand)
    query = UserQuery(
        is_active=active, email=email, username=user_name, last_login_before=last_login_before
    )

    def read(
        session: Session, after: users_service.UserKey | None, offset: int, size: int
    ) -> tuple[list[dict[str, Any]], users_service.UserKey | None]:
        users, key = users_service.users_chunk(
            session, actor, query, after=after, offset=offset, size=size
        )
        return _render(session, actor, users, expansions), key

    limit = UNBOUNDED if limit is None else limit
    return streaming.json_list(runtime.db, session, read, offset=skip, limit=limit)


@router.get("/{user_id}", operation_id="apiV1GetUser", summary="Get a user")
def get_user(
    user_id: str,
    actor: ApiV1Actor,
    session: ReadSession,
    expand: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    user = users_service.get_user(session, actor, _parse_id(user_id))
    return _render(session, actor, [user], _expand(expand))[0]


def _new_user(session: Session, actor: Actor, body: UserCreate) -> NewUser:
    if body.password is None and not tenants_service.sso_only(session, actor.tenant_id):
        raise invalid_field("password", "required unless the tenant is SSO-only")
    return NewUser(
        **body.model_dump(exclude={"active"}),
        status=UserStatus.active if body.active else UserStatus.inactive,
    )


@router.post("", operation_id="apiV1CreateUser", summary="Create a user", status_code=201)
def create_user(
    body: Annotated[UserCreate, Body()], actor: ApiV1Actor, session: WriteSession
) -> JSONResponse:
    user = users_service.create_user(session, actor, _new_user(session, actor, body))
    return JSONResponse(_render(session, actor, [user])[0], status_code=status.HTTP_201_CREATED)


@router.post(
    "/bulk",
    operation_id="apiV1CreateUsersBulk",
    summary="Create several users at once (all or nothing)",
    description=BULK_LIMITS,
    status_code=201,
    responses=BULK_RESPONSES,
)
def create_users_bulk(
    body: Annotated[list[UserCreate], Body(max_length=MAX_BULK_ITEMS)],
    actor: ApiV1Actor,
    session: WriteSession,
) -> JSONResponse:
    created = []
    for index, item in enumerate(body):
        try:
            created.append(
                users_service.create_user(session, actor, _new_user(session, actor, item))
            )
        except DomainError as exc:
            # The message names the item and, in v1's names, the fields.
            raise type(exc)(f"users[{index}]: {wire_message(exc, WIRE_NAMES)}") from exc
    return JSONResponse(_render(session, actor, created), status_code=status.HTTP_201_CREATED)


def _changes(body: UserUpdate) -> UserPatch:
    changes = body.model_dump(exclude_unset=True, exclude=NOT_USER_FIELDS)
    if "active" in body.model_fields_set:
        changes["status"] = UserStatus.active if body.active else UserStatus.inactive
    return UserPatch(**changes)


@router.patch("/{user_id}", operation_id="apiV1UpdateUser", summary="Change the fields sent")
def update_user(
    user_id: str,
    body: Annotated[UserUpdate, Body()],
    actor: ApiV1Actor,
    session: WriteSession,
) -> dict[str, Any]:
    uid = _parse_id(user_id)
    user = users_service.update_user(session, actor, uid, _changes(body))
    if body.group_ids is not None:
        users_service.set_user_groups(session, actor, uid, body.group_ids)
    return _render(session, actor, [user])[0]


@router.delete("/{user_id}", operation_id="apiV1DeleteUser", summary="Delete a user for good")
def delete_user(user_id: str, actor: ApiV1Actor, session: WriteSession) -> dict[str, Any]:
    users_service.delete_user(session, actor, _parse_id(user_id))
    return {}


@legacy.patch("/{user_id}", operation_id="apiChangePassword", summary="Change a user's password")
def change_password(
    user_id: str,
    body: Annotated[PasswordChange, Body()],
    actor: ApiV1Actor,
    session: WriteSession,
) -> dict[str, Any]:
    user = users_service.update_user(
        session, actor, _parse_id(user_id), UserPatch(password=body.password)
    )
    return _render(session, actor, [user])[0]


@legacy.get("/loggedin", operation_id="apiLoggedInUser", summary="The logged-in admin")
def logged_in(actor: ApiV1Actor) -> dict[str, Any]:
    return {"userName": actor.actor.removeprefix("admin:"), "tenantId": str(actor.tenant_id)}
