"""Wire schemas of /integration/v2 and their mapping from domain objects.

Response fields that have no value are left out rather than sent as null, as the seed
spec declares them as plain strings.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rosterd.api.wire import Text, field_table, not_null
from rosterd.models import Group, Role, Team, User, UserStatus
from rosterd.models.user import full_name

# User fields carry no value rules here: rosterd.domain.rules owns them, so a value gets the
# same answer on every surface. Groups, teams and roles keep theirs until the domain does.
Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[Text, StringConstraints(max_length=2000)]
Permission = Annotated[Text, StringConstraints(min_length=1, max_length=100)]
EMAIL: dict[str, Any] = {"format": "email"}
# v2 requires a user's email, first and last name and cannot clear them: an empty one is no
# value to the domain, so these refuse it (whether a value is valid is the domain's call).
REQUIRED_NAME = "Required; cannot be empty or null."
VALID_FROM = (
    "Extension: the user is `pending` (not active, cannot sign in) until this time, then "
    "active; a time that has come makes it active now. Only a pending user can have one "
    "ahead. With a time zone; before `expiresAt`."
)
EXPIRES_AT = (
    "Extension: the user is deactivated (`inactive`) at this time; a time that has come is "
    "stored as now and deactivates at once. The ADMIN API's `expiredDate`. With a time zone."
)
MEMBERSHIP_EXPIRES_AT = (
    "Extension: the membership is removed at this time (with a time zone, in the future); "
    "absent, it lasts until removed."
)


def iso_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis_of_text(value: str | None) -> str | None:
    """``iso_timestamp`` of a time the store gave as text (rosterd.repositories.text_columns:
    ``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), by slicing."""
    if value is None:
        return None
    return f"{value[:10]}T{value[11:23]}Z"


class WireModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- users ---------------------------------------------------------------------------------


class UserOut(WireModel):
    id: str
    email: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    displayName: str | None = None
    title: str | None = None
    department: str | None = None
    roleId: str | None = None
    roleName: str | None = None
    teamId: str | None = None
    teamName: str | None = None
    status: UserStatus
    avatarUrl: str | None = None
    lastLoginAt: str | None = None
    createdAt: str
    modifiedAt: str
    # Extensions (seed 000): the login name, the boolean view of status, the locale.
    username: str
    isActive: bool
    locale: str | None = None
    # Extensions: scheduled access (see UserCreate).
    validFrom: str | None = None
    expiresAt: str | None = None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls._build(
            user,
            role_name=user.role.name if user.role else None,
            team_name=user.team.name if user.team else None,
        )

    # The columns of a listing row, in users_repo.LISTING_NAMES order (a test pins it):
    # unpacking a row is a fiftieth of reading 18 attributes of SQLAlchemy's Row by name,
    # which was half of a page's wire mapping.
    LISTING_NAMES: ClassVar[tuple[str, ...]] = (
        "id",
        "email",
        "first_name",
        "last_name",
        "display_name",
        "title",
        "department",
        "role_id",
        "role_name",
        "team_id",
        "team_name",
        "status",
        "last_login_at",
        "created_at",
        "modified_at",
        "username",
        "locale",
        "version",
        "valid_from",
        "expires_at",
    )

    @staticmethod
    def wire_of_listing(row: Any) -> dict[str, Any]:
        """A row of ``users_repo.search_listing`` (the User attributes a page shows, ids and
        times as text) as UserOut sends it, fields without a value left out, as a dict ready
        for orjson: GET by id and the list page send it as is, instead of building a model
        only to dump it again. tests/api/v2 pins that it agrees with ``of``."""
        (
            id_,
            email,
            first_name,
            last_name,
            display_name,
            title,
            department,
            role_id,
            role_name,
            team_id,
            team_name,
            status,
            last_login_at,
            created_at,
            modified_at,
            username,
            locale,
            _version,
            valid_from,
            expires_at,
        ) = row
        out = {
            "id": id_,
            "email": email,
            "firstName": first_name,
            "lastName": last_name,
            "displayName": display_name or full_name(first_name, last_name),
            "title": title,
            "department": department,
            "roleId": role_id,
            "roleName": role_name,
            "teamId": team_id,
            "teamName": team_name,
            "status": status,
            "lastLoginAt": millis_of_text(last_login_at),
            "createdAt": millis_of_text(created_at),
            "modifiedAt": millis_of_text(modified_at),
            "username": username,
            "isActive": status == "active",
            "locale": locale,
            "validFrom": millis_of_text(valid_from),
            "expiresAt": millis_of_text(expires_at),
        }
        return {key: value for key, value in out.items() if value is not None}

    @classmethod
    def _build(cls, user: Any, *, role_name: str | None, team_name: str | None) -> UserOut:
        # model_construct: every value comes from the store, already of its wire type, and
        # validating 18 fields took a third of a 100-user page.
        return cls.model_construct(
            id=str(user.id),
            email=user.email,
            firstName=user.first_name,
            lastName=user.last_name,
            displayName=user.display_name or full_name(user.first_name, user.last_name),
            title=user.title,
            department=user.department,
            roleId=str(user.role_id) if user.role_id else None,
            roleName=role_name,
            teamId=str(user.team_id) if user.team_id else None,
            teamName=team_name,
            status=user.status,
            lastLoginAt=iso_timestamp(user.last_login_at),
            createdAt=iso_timestamp(user.created_at) or "",
            modifiedAt=iso_timestamp(user.modified_at) or "",
            username=user.username,
            isActive=user.status == UserStatus.active,
            locale=user.locale,
            validFrom=iso_timestamp(user.valid_from),
            expiresAt=iso_timestamp(user.expires_at),
        )


class UserList(WireModel):
    items: list[UserOut]
    totalCount: int = Field(
        description="How many users match. Exact, except for a `query` matching more users "
        "than the server counts (setting `search_exact_total_limit`, 10,000 by default): "
        "then an estimate from a sample of the tenant's users, never below the matches "
        "counted, and `totalCountIsEstimate` is true."
    )
    totalCountIsEstimate: bool | None = Field(
        default=None,
        description="Present and true only when `totalCount` is an estimate (extension).",
    )
    nextCursor: str | None = Field(
        default=None,
        description="With `sortBy=createdAt`, on a full page read without `offset` or `page`: "
        "pass as `cursor` for the next page (extension); absent on a page with room left.",
    )
    offset: int | None = None
    limit: int | None = None
    page: int | None = None
    pageSize: int | None = None


class UserCreate(RequestModel):
    """Attributes are named after the domain fields they carry, aliased to v2's names."""

    email: str = Field(min_length=1, json_schema_extra=EMAIL)
    first_name: str = Field(alias="firstName", min_length=1, description=REQUIRED_NAME)
    last_name: str = Field(alias="lastName", min_length=1, description=REQUIRED_NAME)
    title: str | None = None
    department: str | None = None
    role_id: uuid.UUID | None = Field(default=None, alias="roleId")
    group_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000, alias="groupIds")
    team_id: uuid.UUID | None = Field(default=None, alias="teamId")
    send_invitation: bool = Field(default=True, alias="sendInvitation")
    username: str | None = None
    display_name: str | None = Field(default=None, alias="displayName")
    locale: str | None = None
    is_active: bool | None = Field(default=None, alias="isActive")
    status: Literal["pending", "active"] | None = None
    valid_from: datetime | None = Field(default=None, alias="validFrom", description=VALID_FROM)
    expires_at: datetime | None = Field(default=None, alias="expiresAt", description=EXPIRES_AT)


class UserUpdate(RequestModel):
    """Only the fields sent change; those that cannot be cleared refuse null."""

    first_name: str | None = Field(
        default=None, alias="firstName", min_length=1, description=REQUIRED_NAME
    )
    last_name: str | None = Field(
        default=None, alias="lastName", min_length=1, description=REQUIRED_NAME
    )
    title: str | None = None
    department: str | None = None
    role_id: uuid.UUID | None = Field(default=None, alias="roleId")
    status: Literal["active", "inactive", "suspended"] | None = None
    team_id: uuid.UUID | None = Field(default=None, alias="teamId")
    email: str | None = Field(default=None, min_length=1, json_schema_extra=EMAIL)
    username: str | None = None
    display_name: str | None = Field(default=None, alias="displayName")
    locale: str | None = None
    is_active: bool | None = Field(default=None, alias="isActive")
    valid_from: datetime | None = Field(
        default=None, alias="validFrom", description=VALID_FROM + " null clears it."
    )
    expires_at: datetime | None = Field(
        default=None, alias="expiresAt", description=EXPIRES_AT + " null clears it."
    )

    _not_null = field_validator(
        "first_name", "last_name", "status", "email", "username", "is_active", mode="before"
    )(not_null)


# Wire fields that are no domain field of their own (status comes from both of them).
STATUS_FIELDS = {"status", "is_active", "send_invitation"}


class UserGroupsSet(RequestModel):
    group_ids: list[uuid.UUID] = Field(max_length=1000, alias="groupIds")


# ---- groups --------------------------------------------------------------------------------


class GroupOut(WireModel):
    id: str
    name: str
    description: str | None = None
    parentId: str | None = None
    memberCount: int
    createdAt: str
    modifiedAt: str

    @classmethod
    def of(cls, group: Group, member_count: int) -> GroupOut:
        return cls(
            id=str(group.id),
            name=group.name,
            description=group.description,
            parentId=str(group.parent_id) if group.parent_id else None,
            memberCount=member_count,
            createdAt=iso_timestamp(group.created_at) or "",
            modifiedAt=iso_timestamp(group.modified_at) or "",
        )


class GroupList(WireModel):
    items: list[GroupOut]
    totalCount: int
    nextCursor: str | None = Field(
        default=None,
        description="On a full page read without `offset` or `page`: pass as `cursor` for "
        "the next page (extension); absent on a page with room left.",
    )
    offset: int | None = None
    limit: int | None = None
    page: int | None = None
    pageSize: int | None = None


class GroupCreate(RequestModel):
    name: Name
    description: Description | None = None
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")


class GroupUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None
    parent_id: uuid.UUID | None = Field(default=None, alias="parentId")


class MemberAdd(RequestModel):
    user_id: uuid.UUID = Field(alias="userId")
    expires_at: datetime | None = Field(
        default=None, alias="expiresAt", description=MEMBERSHIP_EXPIRES_AT
    )


class MemberAdded(WireModel):
    groupId: str
    userId: str
    addedAt: str
    expiresAt: str | None = Field(default=None, description=MEMBERSHIP_EXPIRES_AT)


class MemberOut(UserOut):
    membershipExpiresAt: str | None = Field(
        default=None,
        description="Extension: when the scheduler removes this membership; absent: never.",
    )

    @classmethod
    def of_member(cls, user: User, expires_at: datetime | None) -> MemberOut:
        out = cls.model_construct(**dict(UserOut.of(user)))
        out.membershipExpiresAt = iso_timestamp(expires_at)
        return out


class MemberList(WireModel):
    items: list[MemberOut]
    totalCount: int
    offset: int | None = None
    limit: int | None = None
    page: int | None = None
    pageSize: int | None = None


# ---- roles ---------------------------------------------------------------------------------


class RoleOut(WireModel):
    id: str
    name: str
    description: str | None = None
    permissions: list[str]
    isSystem: bool
    userCount: int
    createdAt: str

    @classmethod
    def of(cls, role: Role, user_count: int) -> RoleOut:
        return cls(
            id=str(role.id),
            name=role.name,
            description=role.description,
            permissions=list(role.permissions),
            isSystem=role.is_system,
            userCount=user_count,
            createdAt=iso_timestamp(role.created_at) or "",
        )


class RoleList(WireModel):
    items: list[RoleOut]
    totalCount: int
    offset: int | None = None
    limit: int | None = None
    page: int | None = None
    pageSize: int | None = None


class RoleCreate(RequestModel):
    name: Name
    description: Description | None = None
    permissions: list[Permission] = Field(default_factory=list, max_length=200)


class RoleUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None
    permissions: list[Permission] | None = Field(default=None, max_length=200)


# ---- teams ---------------------------------------------------------------------------------


class TeamOut(WireModel):
    id: str
    name: str
    description: str | None = None
    memberCount: int
    managerId: str | None = None
    managerName: str | None = None
    createdAt: str
    modifiedAt: str

    @classmethod
    def of(cls, team: Team, member_count: int) -> TeamOut:
        manager = team.manager
        return cls(
            id=str(team.id),
            name=team.name,
            description=team.description,
            memberCount=member_count,
            managerId=str(team.manager_id) if team.manager_id else None,
            managerName=(manager.display_name or manager.full_name or manager.username)
            if manager
            else None,
            createdAt=iso_timestamp(team.created_at) or "",
            modifiedAt=iso_timestamp(team.modified_at) or "",
        )


class TeamList(WireModel):
    items: list[TeamOut]
    totalCount: int
    offset: int | None = None
    limit: int | None = None
    page: int | None = None
    pageSize: int | None = None


class TeamCreate(RequestModel):
    name: Name
    description: Description | None = None
    manager_id: uuid.UUID | None = Field(default=None, alias="managerId")


class TeamUpdate(RequestModel):
    name: Name | None = None
    description: Description | None = None
    manager_id: uuid.UUID | None = Field(default=None, alias="managerId")


# ---- errors --------------------------------------------------------------------------------


# The surface's one field table: domain field name -> v2 name (requests, errors).
WIRE_NAMES = field_table(
    UserCreate,
    UserUpdate,
    UserGroupsSet,
    GroupCreate,
    GroupUpdate,
    MemberAdd,
    TeamCreate,
    TeamUpdate,
    reassign_to="reassignTo",
)


class ErrorDetail(WireModel):
    field: str
    message: str


class ErrorInfo(WireModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorOut(WireModel):
    error: ErrorInfo


# ---- audit events and the event feed (extensions) ------------------------------------------


class AuditEventOut(WireModel):
    id: int
    occurredAt: str
    actor: str
    surface: str
    action: str
    resourceType: str
    resourceId: str
    requestId: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditEventList(WireModel):
    items: list[AuditEventOut]
    nextCursor: str | None = None


class CloudEventOut(WireModel):
    specversion: str
    id: str
    source: str
    type: str
    time: str
    subject: str
    datacontenttype: str
    data: dict[str, Any]


class EventPage(WireModel):
    events: list[CloudEventOut]
    cursor: str
    hasMore: bool
