"""Bulk import of a directory: groups, teams and users from JSON Lines, fast.

One record a line, each with a ``type``:

    {"type": "group", "name": "Sales", "description": "...", "parent": "Revenue"}
    {"type": "team", "name": "EMEA AEs", "description": "..."}
    {"type": "user", "username": "jane", "email": "jane@example.com", "first_name": "Jane",
     "last_name": "Doe", "phone": "+15555550100", "title": "AE", "department": "Sales",
     "role": "User", "team": "EMEA AEs", "groups": ["Sales"], "external_id": "00u1",
     "last_login_at": "2026-01-31T09:00:00Z", "status": "active"}

Groups, teams and roles are referred to by name; a parent group must come before its
children. Records are validated like the APIs validate them (by the same rules, whose fast
paths for plain addresses and E.164 numbers give their libraries' answers), then written in
batches by rosterd.repositories.bulk: COPY on PostgreSQL, one prepared statement run for every
row on SQLite (one audit event per created object, as everywhere). The caller owns the
transactions: one per batch, so a bad line stops the import at its batch and says which line.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rosterd.domain import rules, user_fields
from rosterd.models import UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, DomainError, Invalid, conflict_of


def _text(value: str) -> str:
    """The domain's text rule (no NUL), told as pydantic tells a bad value."""
    try:
        return rules.text(value, "", None)
    except Invalid as exc:
        raise ValueError(exc.details[0].message) from exc


# A group, team or role by name (user fields are checked by rosterd.domain.user_fields).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_text),
]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_text)]


class GroupRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["group"]
    name: Name
    description: Description | None = None
    parent: Name | None = None


class TeamRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["team"]
    name: Name
    description: Description | None = None


class UserRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["user"]
    # Checked by the domain's rules (rosterd.domain.user_fields), as every API's are.
    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    display_name: str | None = None
    title: str | None = None
    department: str | None = None
    phone: str | None = None
    locale: str | None = None
    role: Name | None = None
    team: Name | None = None
    groups: list[Name] = Field(default_factory=list, max_length=1000)
    external_id: str | None = None
    last_login_at: datetime | None = None
    status: UserStatus = UserStatus.active


Record = Annotated[GroupRecord | TeamRecord | UserRecord, Field(discriminator="type")]


class _Line(BaseModel):
    record: Record


@dataclass
class ImportResult:
    groups: int = 0
    teams: int = 0
    users: int = 0
    memberships: int = 0


@dataclass
class Names:
    """Name → id lookups for the tenant, kept across batches of one import."""

    groups: dict[str, uuid.UUID] = field(default_factory=dict)
    teams: dict[str, uuid.UUID] = field(default_factory=dict)
    roles: dict[str, uuid.UUID] = field(default_factory=dict)
    # Whether the tenant lets users share an address (tenants.shared_emails).
    shared_emails: bool = False

    @classmethod
    def load(cls, session: Session, tenant_id: uuid.UUID) -> Names:
        groups, teams, roles = bulk_repo.name_maps(session, tenant_id)
        shared = tenants_service.shared_emails(session, tenant_id)
        return cls(groups=groups, teams=teams, roles=roles, shared_emails=shared)


def parse(line_number: int, line: str) -> GroupRecord | TeamRecord | UserRecord:
    try:
        return _Line.model_validate_json(f'{{"record": {line}}}').record
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][2:]) or "record"
        raise Invalid(f"line {line_number}: {where}: {first['msg']}") from exc


def import_batch(
    session: Session,
    actor: Actor,
    names: Names,
    batch: Iterable[tuple[int, GroupRecord | TeamRecord | UserRecord]],
) -> ImportResult:
    """Write one batch of parsed records; raises with the offending line on any problem.

    Duplicate usernames or emails (against the store or within the batch) are found by the
    unique indexes, without a query per record: the conflict then names the field and the
    batch's lines, and the caller's transaction is to be rolled back.
    """
    batch = list(batch)
    try:
        return _write_batch(session, actor, names, batch)
    except IntegrityError as exc:
        conflict = conflict_of(exc)
        if conflict is None:
            raise
        lines = f"lines {batch[0][0]}-{batch[-1][0]}" if batch else "batch"
        raise Conflict(
            f"{lines}: {conflict.details[0].field} already taken (in the store or in this batch)",
            conflict.details,
        ) from exc


def _write_batch(
    session: Session,
    actor: Actor,
    names: Names,
    batch: list[tuple[int, GroupRecord | TeamRecord | UserRecord]],
) -> ImportResult:
    result = ImportResult()
    bulk_repo.prepare_load(session)
    now = utcnow()
    groups: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    audit_rows: list[dict[str, Any]] = []
    for line_number, record in batch:
        if isinstance(record, GroupRecord):
            group_id = _new_name(names.groups, record.name, "group", line_number)
            parent = _lookup(names.groups, record.parent, "parent group", line_number)
            groups.append(
                {
                    "id": group_id,
                    "tenant_id": actor.tenant_id,
                    "name": record.name,
                    "description": record.description,
                    "parent_id": parent,
                    "external_id": None,
                    "created_at": now,
                    "modified_at": now,
                    "version": 1,
                }
            )
            audit_rows.append(_audit(actor, "group.created", "group", group_id, record.name, now))
            result.groups += 1
        elif isinstance(record, TeamRecord):
            team_id = _new_name(names.teams, record.name, "team", line_number)
            teams.append(
                {
                    "id": team_id,
                    "tenant_id": actor.tenant_id,
                    "name": record.name,
                    "description": record.description,
                    "manager_id": None,
                    "created_at": now,
                    "modified_at": now,
                }
            )
            audit_rows.append(_audit(actor, "team.created", "team", team_id, record.name, now))
            result.teams += 1
        else:
            user = _user_row(actor, names, record, line_number, now)
            users.append(user)
            for name in dict.fromkeys(g.lower() for g in record.groups):
                memberships.append(
                    {
                        "group_id": _lookup(names.groups, name, "group", line_number),
                        "user_id": user["id"],
                        "tenant_id": actor.tenant_id,
                        "created_at": now,
                    }
                )
            audit_rows.append(
                _audit(actor, "user.created", "user", user["id"], user["username"], now)
            )
    # Rows go in file order, so a parent group is written before its children.
    bulk_repo.insert_groups(session, groups)
    bulk_repo.insert_teams(session, teams)
    if users:
        first = tenants_repo.allocate_user_numbers(session, actor.tenant_id, len(users))
        for offset, row in enumerate(users):
            row["number"] = first + offset
        bulk_repo.insert_users(session, users)
        bulk_repo.insert_memberships(session, memberships)
        result.users, result.memberships = len(users), len(memberships)
    bulk_repo.insert_audit(session, audit_rows)
    return result


def _user_row(
    actor: Actor, names: Names, record: UserRecord, line_number: int, now: datetime
) -> dict[str, Any]:
    # The record's own user fields; names of other rows and what only an import sets aside.
    fields = record.model_dump(
        exclude={"type", "role", "team", "groups", "last_login_at", "status"}
    )
    if not fields["username"]:
        del fields["username"]
    try:
        columns = user_fields.columns(fields, None, strict_phone=False)
        user_fields.login_name(columns)
    except DomainError as exc:
        raise type(exc)(f"line {line_number}: {exc.message}", exc.details) from exc
    return {
        **columns,
        "id": uuid.uuid4(),
        "tenant_id": actor.tenant_id,
        "email_unique": not names.shared_emails,
        "status": record.status,
        "role_id": _lookup(names.roles, record.role, "role", line_number),
        "team_id": _lookup(names.teams, record.team, "team", line_number),
        "last_login_at": record.last_login_at,
        "created_at": now,
        "modified_at": now,
        "version": 1,
    }


def _new_name(table: dict[str, uuid.UUID], name: str, what: str, line_number: int) -> uuid.UUID:
    key = name.lower()
    if key in table:
        raise Conflict(f"line {line_number}: a {what} named {name!r} already exists")
    table[key] = uuid.uuid4()
    return table[key]


def _lookup(
    table: dict[str, uuid.UUID], name: str | None, what: str, line_number: int
) -> uuid.UUID | None:
    if name is None:
        return None
    found = table.get(name.lower())
    if found is None:
        raise Invalid(f"line {line_number}: {what} {name!r} not found")
    return found


def _audit(
    actor: Actor, action: str, kind: str, resource_id: uuid.UUID, name: str, now: datetime
) -> dict[str, Any]:
    return {
        "tenant_id": actor.tenant_id,
        "occurred_at": now,
        "actor": actor.actor,
        "surface": actor.surface,
        "action": action,
        "resource_type": kind,
        "resource_id": str(resource_id),
        "before": None,
        "after": {"name": name, "imported": True},
        "request_id": actor.request_id,
    }
