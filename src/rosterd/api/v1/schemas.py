"""Wire shapes of /api/v1 (seed 004): Sisense-style users, groups and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StringConstraints

from rosterd.models import Group, Role, User, UserStatus

NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NO_NUL)
]
Email = Annotated[EmailStr, StringConstraints(max_length=320)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_out(
    user: User,
    groups: list[tuple[uuid.UUID, str]],
    *,
    expand_groups: bool = False,
    expand_role: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": str(user.id),
        "userName": user.username,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "roleId": str(user.role_id) if user.role_id else None,
        "groups": [{"_id": str(g), "name": n} for g, n in groups]
        if expand_groups
        else [str(g) for g, _ in groups],
        "active": user.status == UserStatus.active,
        "lastLogin": iso(user.last_login_at),
        "created": iso(user.created_at),
        "lastUpdated": iso(user.modified_at),
        "preferences": user.preferences or {},
    }
    if expand_role:
        body["role"] = {"_id": str(user.role.id), "name": user.role.name} if user.role else None
    return body


def group_out(group: Group, members: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": str(group.id),
        "name": group.name,
        "description": group.description,
        "created": iso(group.created_at),
        "lastUpdated": iso(group.modified_at),
    }
    if members is not None:
        body["users"] = members
    return body


def member_out(user: User) -> dict[str, Any]:
    return {
        "_id": str(user.id),
        "userName": user.username,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "active": user.status == UserStatus.active,
        "roleId": str(user.role_id) if user.role_id else None,
    }


def role_out(role: Role) -> dict[str, Any]:
    return {
        "_id": str(role.id),
        "name": role.name,
        "displayName": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "system": role.is_system,
    }


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    userName: Name | None = None
    roleId: uuid.UUID | None = None
    groups: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    password: Password | None = None
    firstName: Name | None = None
    lastName: Name | None = None
    preferences: dict[str, Any] | None = None
    active: StrictBool = True


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email | None = None
    userName: Name | None = None
    roleId: uuid.UUID | None = None
    groups: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    password: Password | None = None
    firstName: Name | None = None
    lastName: Name | None = None
    preferences: dict[str, Any] | None = None
    active: StrictBool | None = None


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)] | None = None


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)] | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Password
