"""/v1/seadminusers (seed 002): users by integer id, exact-match search, full-replace PUT,
and ``expiredDate`` (past: stored as now and deactivated; future: the scheduler's job)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Query, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from rosterd.api.adminusers.auth import AdminRead, AdminWrite
from rosterd.api.adminusers.wire import AdminUser, AdminUserFields, as_moment, iso
from rosterd.api.deps import ReadSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.wire import Text
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import User, UserStatus
from rosterd.repositories.users import UserQuery
from rosterd.services import groups as groups_service
from rosterd.services import roles as roles_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field

PREFIX = "/v1/seadminusers"
router = api_router(prefix=PREFIX, tags=["ADMIN users"])

MAX_NUMBER = 2**63 - 1


def _out(user: User, groups: list[tuple[uuid.UUID, str]], identities: list[str]) -> dict[str, Any]:
    wire = AdminUser.model_construct(
        id=user.number,
        # A user made on a surface with usernames may have no email: GET shows null.
        email=user.email,  # type: ignore[arg-type]
        external_identities=identities[0] if identities else None,
        first_name=user.first_name,
        last_name=user.last_name,
        role_id=[user.role.name] if user.role else [],
        group_ids=[name for _, name in groups],
        expires_at=user.expires_at,
        active=user.status == UserStatus.active,
        created_at=user.created_at,
        modified_at=user.modified_at,
        last_login_at=user.last_login_at,
    )
    return wire.model_dump(mode="json", by_alias=True)


def _render(session: Session, actor: Actor, users: list[User]) -> list[dict[str, Any]]:
    ids = [u.id for u in users]
    groups = users_service.groups_of_users(session, actor, ids)
    identities = users_service.external_identities_of(session, actor, ids)
    return [_out(u, groups.get(u.id, []), identities.get(u.id, [])) for u in users]


def _resolve(
    session: Session, actor: Actor, body: AdminUserFields
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    role_id = None
    for ref in body.role_id:
        role = roles_service.find(session, actor, ref)
        if role is None:
            raise invalid_field("role_id", f"no role named {ref!r}")
        role_id = role.id
    group_ids = []
    for ref in body.group_ids:
        group = groups_service.find(session, actor, ref)
        if group is None:
            raise invalid_field("group_ids", f"no group named {ref!r}")
        group_ids.append(group.id)
    return role_id, group_ids


def _number(value: int) -> int:
    if value < 1 or value > MAX_NUMBER:
        raise invalid_field("userId", "must be a positive integer")
    return value


@router.get(
    "",
    operation_id="adminSearchUsers",
    summary="Search users by exact id, email or external identity",
)
def search(
    actor: AdminRead,
    session: ReadSession,
    by_id: Annotated[int | None, Query(alias="searchData.id")] = None,
    email: Annotated[Text | None, Query(alias="searchData.emailAddress", max_length=320)] = None,
    identity: Annotated[
        Text | None, Query(alias="searchData.externalIdentity", max_length=255)
    ] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if by_id is None and email is None and identity is None:
        users, total = users_service.list_users(
            session, actor, UserQuery(sort_by="createdAt", offset=offset, limit=limit)
        )
        return {"users": _render(session, actor, users), "totalCount": total}
    candidates: list[User | None] = []
    if by_id is not None:
        candidates.append(users_service.find_by_number(session, actor, _number(by_id)))
    if email is not None:
        found, _ = users_service.list_users(session, actor, UserQuery(email=email, limit=1))
        candidates.append(found[0] if found else None)
    if identity is not None:
        candidates.append(users_service.find_by_external_identity(session, actor, identity))
    # Every criterion given must hold: the match is the one user all of them found.
    first = candidates[0]
    match = (
        first
        if first is not None and all(c is not None and c.id == first.id for c in candidates)
        else None
    )
    users = [match] if match is not None else []
    return {"users": _render(session, actor, users), "totalCount": len(users)}


@router.get("/{userId}", operation_id="adminGetUser", summary="Get a user by integer id")
def get_user(userId: int, actor: AdminRead, session: ReadSession) -> dict[str, Any]:  # noqa: N803
    user = users_service.get_by_number(session, actor, _number(userId))
    return _render(session, actor, [user])[0]


@router.post(
    "",
    operation_id="adminCreateUser",
    summary="Create a user with roles and groups",
    status_code=201,
)
def create_user(
    body: Annotated[AdminUserFields, Body()], actor: AdminWrite, session: WriteSession
) -> JSONResponse:
    role_id, group_ids = _resolve(session, actor, body)
    user = users_service.create_user(
        session,
        actor,
        NewUser(
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            role_id=role_id,
            group_ids=group_ids,
            external_identities=[body.external_identities] if body.external_identities else [],
            expires_at=as_moment(body.expires_at),
        ),
    )
    return JSONResponse(_render(session, actor, [user])[0], status_code=status.HTTP_201_CREATED)


@router.put(
    "/{userId}",
    operation_id="adminReplaceUser",
    summary="Replace every field of a user",
    description="Takes the body GET answered: its read-only fields (id, active, createdDate, "
    "modifiedDate, lastLoginDate) are ignored, but an id must be the one in the path.",
)
def replace_user(
    userId: int,  # noqa: N803
    body: Annotated[AdminUser, Body()],
    actor: AdminWrite,
    session: WriteSession,
) -> dict[str, Any]:
    number = _number(userId)
    if body.id is not None and body.id != number:
        raise invalid_field("id", f"is {body.id}, but the path names user {number}")
    user = users_service.lock_by_number(session, actor, number)
    role_id, group_ids = _resolve(session, actor, body)
    changes: dict[str, Any] = {
        **users_service.email_changes(user, body.email),
        "first_name": body.first_name,
        "last_name": body.last_name,
        "role_id": role_id,
        "external_identities": [body.external_identities] if body.external_identities else [],
    }
    # The expiry GET showed, sent back, is no change: re-storing a date that has passed
    # would move it to now (see lifecycle.effective_expiry). Clearing or moving ahead one
    # that came reactivates the user (lifecycle.patched_schedule).
    expires_at = as_moment(body.expires_at)
    if iso(expires_at) != iso(user.expires_at):
        changes["expires_at"] = expires_at
    users_service.apply_patch(session, actor, user, UserPatch(**changes))
    users_service.set_user_groups(session, actor, user.id, group_ids)
    return _render(session, actor, [user])[0]
