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
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from rosterd.api.wire import Text, field_table

# A role or group by name: looked up, never stored. User fields carry no value rules here
# (rosterd.domain.rules decides, the same way on every surface).
Ref = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


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

    # Required: an empty one is no address to the domain, so it is refused here.
    email: str = Field(alias="emailAddress", min_length=1, json_schema_extra={"format": "email"})
    external_identities: str | None = Field(default=None, alias="externalIdentity")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
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
    # An extension: the user's last sign-in, the value v2 shows as lastLoginAt.
    last_login_at: Moment | None = Field(
        default=None, alias="lastLoginDate", json_schema_extra=ReadOnly
    )


# The surface's one field table: domain field name -> wire name. A user's username is the
# email it was made with here (users_service.email_changes), so it is told as emailAddress.
WIRE_NAMES = field_table(AdminUser, username="emailAddress")
