"""Wire shapes of /api/v1 (seed 004): Sisense-style users, groups and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from rosterd.api.wire import Text, field_table, not_null
from rosterd.models import Group, Role, User, UserStatus

# Group names keep their rules here until the domain owns them; user fields carry none
# (rosterd.domain.rules decides, the same way on every surface).
Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[Text, StringConstraints(max_length=2000)]
EMAIL: dict[str, Any] = {"format": "email"}

# The bulk creates take up to 1000 items in one body, more than the server-wide
# ROSTERD_MAX_BODY_BYTES (1 MiB by default) fits: they advertise and hold their own limit
# (or the server-wide one, when that is larger).
MAX_BULK_ITEMS = 1000
MAX_BULK_BODY_BYTES = 4 * 1024 * 1024
BULK_LIMITS = (
    f"Up to {MAX_BULK_ITEMS} items, in a body of up to {MAX_BULK_BODY_BYTES} bytes "
    "(4 MiB, or ROSTERD_MAX_BODY_BYTES when that is larger); a larger body is answered 413."
)
BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"description": f"The body is larger than {MAX_BULK_BODY_BYTES} bytes."}
}


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
    """Attributes are named after the domain fields they carry, aliased to v1's names."""

    model_config = ConfigDict(extra="forbid")
    # Required: an empty one is no address to the domain, so it is refused here.
    email: str = Field(min_length=1, json_schema_extra=EMAIL)
    username: str | None = Field(default=None, alias="userName")
    role_id: uuid.UUID | None = Field(default=None, alias="roleId")
    group_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000, alias="groups")
    password: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    preferences: dict[str, Any] | None = None
    active: StrictBool = True


class UserUpdate(BaseModel):
    """Only the fields sent change; email, userName, groups, password and active refuse
    null (they cannot be cleared)."""

    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, min_length=1, json_schema_extra=EMAIL)
    username: str | None = Field(default=None, alias="userName")
    role_id: uuid.UUID | None = Field(default=None, alias="roleId")
    group_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000, alias="groups")
    password: str | None = None
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    preferences: dict[str, Any] | None = None
    active: StrictBool | None = None

    _not_null = field_validator(
        "email", "username", "group_ids", "password", "active", mode="before"
    )(not_null)


# Wire fields that are no domain field of their own: status comes from ``active``, and
# memberships are written apart from the user.
NOT_USER_FIELDS = {"active", "group_ids"}


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Name
    description: Description | None = None


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: Description | None = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str


# The surface's one field table: domain field name -> /api/v1 name (requests, errors).
WIRE_NAMES = field_table(UserCreate, UserUpdate)
