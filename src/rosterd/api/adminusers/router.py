"""/v1/seadminusers (seed 002): users by integer id, exact-match search, full-replace PUT,
and ``expiredDate`` (past: stored as now and deactivated; future: the scheduler's job)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import Body, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy.orm import Session

from rosterd.api.adminusers.auth import AdminRead, AdminWrite
from rosterd.api.deps import SessionDep
from rosterd.api.routing import api_router
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import User, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories.users import UserQuery
from rosterd.services import groups as groups_service
from rosterd.services import lifecycle
from rosterd.services import roles as roles_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field

PREFIX = "/v1/seadminusers"
router = api_router(prefix=PREFIX, tags=["ADMIN users"])

NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255, pattern=NO_NUL)]
Ref = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NO_NUL)
]
Identity = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NO_NUL)
]
MAX_NUMBER = 2**63 - 1


class AdminUserBody(BaseModel):
    """A whole user: POST creates it, PUT replaces every field with it."""

    model_config = ConfigDict(extra="forbid")
    emailAddress: Annotated[EmailStr, StringConstraints(max_length=320)]  # noqa: N815
    firstName: Name | None = None  # noqa: N815
    lastName: Name | None = None  # noqa: N815
    externalIdentity: Identity | None = None  # noqa: N815
    roles: list[Ref] = Field(default_factory=list, max_length=1)
    groups: list[Ref] = Field(default_factory=list, max_length=1000)
    expiredDate: datetime | date | None = None  # noqa: N815


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _out(user: User, groups: list[tuple[uuid.UUID, str]], identities: list[str]) -> dict[str, Any]:
    return {
        "id": user.number,
        "emailAddress": user.email,
        "externalIdentity": identities[0] if identities else None,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "roles": [user.role.name] if user.role else [],
        "groups": [name for _, name in groups],
        "expiredDate": _iso(user.expires_at),
        "active": user.status == UserStatus.active,
        "createdDate": _iso(user.created_at),
        "modifiedDate": _iso(user.modified_at),
    }


def _render(session: Session, actor: Actor, users: list[User]) -> list[dict[str, Any]]:
    ids = [u.id for u in users]
    groups = users_service.groups_of_users(session, actor, ids)
    identities = users_service.external_identities_of(session, actor, ids)
    return [_out(u, groups.get(u.id, []), identities.get(u.id, [])) for u in users]


def _expiry(value: datetime | date | None) -> datetime | None:
    """A date means the start of that day (UTC); a time without an offset is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _resolve(
    session: Session, actor: Actor, body: AdminUserBody
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    role_id = None
    for ref in body.roles:
        role = roles_service.find(session, actor, ref)
        if role is None:
            raise invalid_field("roles", f"no role named {ref!r}")
        role_id = role.id
    group_ids = []
    for ref in body.groups:
        group = groups_service.find(session, actor, ref)
        if group is None:
            raise invalid_field("groups", f"no group named {ref!r}")
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
    session: SessionDep,
    by_id: Annotated[int | None, Query(alias="searchData.id")] = None,
    email: Annotated[
        str | None, Query(alias="searchData.emailAddress", max_length=320, pattern=NO_NUL)
    ] = None,
    identity: Annotated[
        str | None, Query(alias="searchData.externalIdentity", max_length=255, pattern=NO_NUL)
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
def get_user(userId: int, actor: AdminRead, session: SessionDep) -> dict[str, Any]:  # noqa: N803
    user = users_service.get_by_number(session, actor, _number(userId))
    return _render(session, actor, [user])[0]


@router.post(
    "",
    operation_id="adminCreateUser",
    summary="Create a user with roles and groups",
    status_code=201,
)
def create_user(
    body: Annotated[AdminUserBody, Body()], actor: AdminWrite, session: SessionDep
) -> JSONResponse:
    role_id, group_ids = _resolve(session, actor, body)
    user = users_service.create_user(
        session,
        actor,
        NewUser(
            email=body.emailAddress,
            first_name=body.firstName or None,
            last_name=body.lastName or None,
            role_id=role_id,
            group_ids=group_ids,
            external_identities=[body.externalIdentity] if body.externalIdentity else [],
            expires_at=_expiry(body.expiredDate),
        ),
    )
    return JSONResponse(_render(session, actor, [user])[0], status_code=status.HTTP_201_CREATED)


@router.put("/{userId}", operation_id="adminReplaceUser", summary="Replace every field of a user")
def replace_user(
    userId: int,  # noqa: N803
    body: Annotated[AdminUserBody, Body()],
    actor: AdminWrite,
    session: SessionDep,
) -> dict[str, Any]:
    user = users_service.lock_by_number(session, actor, _number(userId))
    role_id, group_ids = _resolve(session, actor, body)
    expires_at = _expiry(body.expiredDate)
    changes: dict[str, Any] = {
        **users_service.email_changes(user, body.emailAddress),
        "first_name": body.firstName or None,
        "last_name": body.lastName or None,
        "role_id": role_id,
        "external_identities": [body.externalIdentity] if body.externalIdentity else [],
        "expires_at": expires_at,
    }
    if lifecycle.expiry_lifted(user.status, user.expires_at, expires_at, utcnow()):
        changes["status"] = UserStatus.active
    users_service.apply_patch(session, actor, user, UserPatch(**changes))
    users_service.set_user_groups(session, actor, user.id, group_ids)
    return _render(session, actor, [user])[0]
