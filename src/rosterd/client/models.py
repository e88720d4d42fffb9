"""What the API answers, as typed models: attributes in snake_case (``user.first_name``),
read from the API's camelCase JSON. Fields the server adds later are kept (``extra``), so an
older SDK does not lose them.

Resources that can be updated carry the ``etag`` the server sent with them: pass it as
``if_match=`` to update only the version you read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rosterd.client.errors import RosterdError

__all__ = [
    "AuditEvent",
    "BulkItem",
    "Event",
    "EventPage",
    "Group",
    "GroupMembership",
    "Guard",
    "IdleSweep",
    "Named",
    "OffboardResult",
    "PlannedUser",
    "Role",
    "Team",
    "User",
]

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


UserStatus = Literal["pending", "active", "suspended", "inactive"]


class User(Model):
    id: str
    username: str
    status: UserStatus
    is_active: bool
    created_at: datetime
    modified_at: datetime
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    title: str | None = None
    department: str | None = None
    role_id: str | None = None
    role_name: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    avatar_url: str | None = None
    last_login_at: datetime | None = None
    locale: str | None = None
    etag: str | None = Field(default=None, description="The version read, for if_match=.")


class Group(Model):
    id: str
    name: str
    member_count: int
    created_at: datetime
    modified_at: datetime
    description: str | None = None
    parent_id: str | None = None
    etag: str | None = None


class GroupMembership(Model):
    group_id: str
    user_id: str
    added_at: datetime


class Role(Model):
    id: str
    name: str
    permissions: list[str]
    is_system: bool
    user_count: int
    created_at: datetime
    description: str | None = None


class Team(Model):
    id: str
    name: str
    member_count: int
    created_at: datetime
    modified_at: datetime
    description: str | None = None
    manager_id: str | None = None
    manager_name: str | None = None


class AuditEvent(Model):
    id: int
    occurred_at: datetime
    actor: str
    surface: str
    action: str
    resource_type: str
    resource_id: str
    request_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class Event(BaseModel):
    """A CloudEvents 1.0 event of the feed (its attributes keep their CloudEvents names)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    specversion: str
    id: str
    source: str
    type: str
    time: datetime
    subject: str
    datacontenttype: str
    data: dict[str, Any]


class EventPage(Model):
    """One read of the feed: ``cursor`` reads on from after these events."""

    events: list[Event]
    cursor: str
    has_more: bool


class Webhook(Model):
    """A subscription to the tenant's events. ``secret`` is there only in the answer to
    ``create`` and ``rotate_secret`` (None in every other answer)."""

    id: str
    url: str
    event_types: list[str] | None
    enabled: bool
    exclude_own_events: bool
    created_by: str
    disabled_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    secret: str | None = None


class WebhookDelivery(Model):
    """One event's delivery to one webhook: ``status`` pending, succeeded or failed."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    response_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    created_at: datetime | None = None


class Named(Model):
    id: str
    name: str


class OffboardResult(Model):
    user_id: str
    status: str
    changed: bool
    deactivated: bool
    groups_removed: list[Named]
    groups_kept: list[Named]
    teams_reassigned: list[Named]
    sessions_ended: int
    reassigned_to: str | None = None


class Guard(Model):
    percent_of_active_users: float
    users: int


class IdleSweep(Model):
    id: str
    state: Literal["planned", "held", "applied"]
    held: bool
    inactive_days: int
    never_signed_in: str
    action: str
    cutoff: datetime
    user_count: int
    active_users: int
    guard: Guard
    created_at: datetime
    created_by: str
    applied_at: datetime | None = None
    applied_by: str | None = None
    result: dict[str, int] | None = None


class PlannedUser(Model):
    user_id: str
    reason: Literal["lastSignIn", "neverSignedIn"]
    created_at: datetime
    username: str | None = None
    email: str | None = None
    last_login_at: datetime | None = None
    outcome: Literal["deactivated", "offboarded", "skipped"] | None = None
    skip_reason: str | None = None


@dataclass(frozen=True)
class BulkItem(Generic[T]):
    """The outcome of one item of a bulk call: ``value`` when it succeeded, else ``error``
    (a ``RosterdError``); ``index`` is its position in the input."""

    index: int
    value: T | None = None
    error: RosterdError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
