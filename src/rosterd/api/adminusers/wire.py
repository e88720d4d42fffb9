"""The wire form of an ADMIN user (seed 002), and with it the surface's one field table.

Each attribute is named after the domain field it carries and aliased to its wire name, so
``AdminUser.model_fields`` maps domain names to wire names for requests, responses and
errors alike. ``AdminUserFields`` is what a client may set (the POST body); ``AdminUser``
adds what only the server sets, so GET answers it and a full-replace PUT can send the very
body GET returned: its read-only fields are accepted and ignored, apart from an ``id`` that
must name the user in the path.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
)

NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255, pattern=NO_NUL)]
Ref = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=NO_NUL)
]


def as_moment(value: datetime | date | None) -> datetime | None:
    """A date alone means the start of that day (UTC); a time without an offset is UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: datetime | date | None) -> str | None:
    """A moment as this API writes it: UTC, whole seconds, ``Z``."""
    moment = as_moment(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


Moment = Annotated[datetime, PlainSerializer(iso)]
Expiry = Annotated[datetime | date, PlainSerializer(iso)]
ReadOnly: dict[str, Any] = {"readOnly": True}


class AdminUserFields(BaseModel):
    """What a client sets: POST creates a user from it, PUT replaces every one of them."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, StringConstraints(max_length=320)] = Field(alias="emailAddress")
    external_identities: Ref | None = Field(default=None, alias="externalIdentity")
    first_name: Name | None = Field(default=None, alias="firstName")
    last_name: Name | None = Field(default=None, alias="lastName")
    # By name on the wire, as ids in the domain.
    role_id: list[Ref] = Field(default_factory=list, max_length=1, alias="roles")
    group_ids: list[Ref] = Field(default_factory=list, max_length=1000, alias="groups")
    expires_at: Expiry | None = Field(default=None, alias="expiredDate")


class AdminUser(AdminUserFields):
    """A whole user: what GET answers and what PUT takes back."""

    id: StrictInt | None = Field(default=None, json_schema_extra=ReadOnly)
    active: StrictBool | None = Field(default=None, json_schema_extra=ReadOnly)
    created_at: Moment | None = Field(default=None, alias="createdDate", json_schema_extra=ReadOnly)
    modified_at: Moment | None = Field(
        default=None, alias="modifiedDate", json_schema_extra=ReadOnly
    )


# Domain field name -> wire name, for messages that name a domain field.
WIRE_NAMES = {name: f.alias for name, f in AdminUser.model_fields.items() if f.alias}
