"""Typed commands: what a surface asks the domain to write.

A surface maps its wire model to one of these (and nothing else); the service applies the
rules of ``rosterd.domain.rules`` to every field it carries. In a patch, ``UNSET`` means
"not sent, leave as is" and ``None`` means "clear".
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeAlias, TypeVar

from rosterd.models import UserStatus


class Unset(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Literal[Unset.UNSET] = Unset.UNSET
T = TypeVar("T")
Maybe: TypeAlias = T | Unset


@dataclass(frozen=True)
class Contact:
    """One entry of a multi-valued email or phone attribute, as the client sent it."""

    value: str
    type: str | None = None
    primary: bool = False
    display: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value}
        if self.type is not None:
            out["type"] = self.type
        if self.primary:
            out["primary"] = True
        if self.display is not None:
            out["display"] = self.display
        return out

    @classmethod
    def of_json(cls, item: dict[str, Any]) -> Contact:
        return cls(
            value=item["value"],
            type=item.get("type"),
            primary=bool(item.get("primary")),
            display=item.get("display"),
        )


@dataclass(frozen=True, kw_only=True)
class NewUser:
    email: str | None = None
    # Every address the client keeps (SCIM ``emails``); ``email`` is then their primary.
    emails: Sequence[Contact] | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    title: str | None = None
    department: str | None = None
    locale: str | None = None
    phone: str | None = None
    phone_numbers: Sequence[Contact] | None = None
    # The user-identities surface promises E.164 phone numbers, unique in the tenant.
    phone_must_be_e164: bool = False
    status: UserStatus = UserStatus.active
    role_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    external_id: str | None = None
    employee_number: str | None = None
    division: str | None = None
    organization: str | None = None
    cost_center: str | None = None
    manager_id: uuid.UUID | None = None
    identity_key: str | None = None
    preferences: dict[str, Any] | None = None
    # Scheduled access (rosterd.services.lifecycle): pending until valid_from, inactive from
    # expires_at.
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    password: str | None = None
    external_identities: Sequence[str] = ()
    group_ids: Sequence[uuid.UUID] = ()


@dataclass(frozen=True, kw_only=True)
class Patch:
    """A command that changes some fields of a resource: every field left ``UNSET`` stays as
    it is."""

    # Fields that say how to apply the patch rather than what to change.
    FLAGS: ClassVar[frozenset[str]] = frozenset()

    def sent(self) -> dict[str, Any]:
        """The fields that were set, by name."""
        return {
            f.name: value
            for f in fields(self)
            if f.name not in self.FLAGS and (value := getattr(self, f.name)) is not UNSET
        }

    def __bool__(self) -> bool:
        return bool(self.sent())


@dataclass(frozen=True, kw_only=True)
class UserPatch(Patch):
    """The user fields to change."""

    FLAGS = frozenset({"phone_must_be_e164"})

    email: Maybe[str | None] = UNSET
    emails: Maybe[Sequence[Contact] | None] = UNSET
    username: Maybe[str] = UNSET
    first_name: Maybe[str | None] = UNSET
    last_name: Maybe[str | None] = UNSET
    display_name: Maybe[str | None] = UNSET
    title: Maybe[str | None] = UNSET
    department: Maybe[str | None] = UNSET
    locale: Maybe[str | None] = UNSET
    phone: Maybe[str | None] = UNSET
    phone_numbers: Maybe[Sequence[Contact] | None] = UNSET
    phone_must_be_e164: bool = False
    status: Maybe[UserStatus] = UNSET
    role_id: Maybe[uuid.UUID | None] = UNSET
    team_id: Maybe[uuid.UUID | None] = UNSET
    external_id: Maybe[str | None] = UNSET
    employee_number: Maybe[str | None] = UNSET
    division: Maybe[str | None] = UNSET
    organization: Maybe[str | None] = UNSET
    cost_center: Maybe[str | None] = UNSET
    manager_id: Maybe[uuid.UUID | None] = UNSET
    identity_key: Maybe[str | None] = UNSET
    preferences: Maybe[dict[str, Any] | None] = UNSET
    valid_from: Maybe[datetime | None] = UNSET
    expires_at: Maybe[datetime | None] = UNSET
    password: Maybe[str] = UNSET
    external_identities: Maybe[Sequence[str]] = UNSET


@dataclass(frozen=True, kw_only=True)
class NewGroup:
    name: str
    description: str | None = None
    parent_id: uuid.UUID | None = None
    external_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class GroupPatch(Patch):
    name: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    parent_id: Maybe[uuid.UUID | None] = UNSET
    external_id: Maybe[str | None] = UNSET


@dataclass(frozen=True, kw_only=True)
class NewRole:
    name: str
    description: str | None = None
    permissions: Sequence[str] = ()


@dataclass(frozen=True, kw_only=True)
class RolePatch(Patch):
    name: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    permissions: Maybe[Sequence[str]] = UNSET


@dataclass(frozen=True, kw_only=True)
class NewTeam:
    name: str
    description: str | None = None
    manager_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class TeamPatch(Patch):
    name: Maybe[str] = UNSET
    description: Maybe[str | None] = UNSET
    manager_id: Maybe[uuid.UUID | None] = UNSET
