"""Bulk import of a directory: groups, teams and users from JSON Lines, fast.

One record a line, each with a ``type``:

    {"type": "group", "name": "Sales", "description": "...", "parent": "Revenue"}
    {"type": "team", "name": "EMEA AEs", "description": "..."}
    {"type": "user", "username": "jane", "email": "jane@example.com", "first_name": "Jane",
     "last_name": "Doe", "phone": "+15555550100", "title": "AE", "department": "Sales",
     "role": "User", "team": "EMEA AEs", "groups": ["Sales"], "external_id": "00u1",
     "last_login_at": "2026-01-31T09:00:00Z", "status": "active"}

Groups, teams and roles are referred to by name; a group or team must come before the lines
that name it. Records are checked like the APIs check them (by the same rules, whose fast
paths for plain addresses and E.164 numbers give their libraries' answers) into ``Checked``
items, then written in batches by rosterd.repositories.bulk: COPY on PostgreSQL, one prepared
statement run for every row on SQLite (one audit event per created object, as everywhere).
The caller owns the transactions: one per batch, journaled in it (rosterd.models.
import_journal), so a batch is stored and journaled or neither.

What is already there is reused, not refused: a group or team line whose name the tenant has
(case-insensitively) is that group or team, left as it is; a user line whose login name
(``username``, else ``email``) a user of the tenant has is that user, left as it is (fields
and memberships unchanged). Both are counted as existing. A new user whose address another
user has is a conflict (unless the tenant shares addresses).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
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
from rosterd.repositories import import_journal
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    conflict_of,
    invalid_field,
)
from rosterd.services.import_files import RawRecord


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
    """What an import (or a batch of it) created, and what it found already there."""

    groups: int = 0
    teams: int = 0
    users: int = 0
    memberships: int = 0
    existing_groups: int = 0
    existing_teams: int = 0
    existing_users: int = 0

    def add(self, other: ImportResult) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)

    def counts(self) -> dict[str, int]:
        return dict(vars(self))

    @classmethod
    def of_counts(cls, counts: dict[str, Any]) -> ImportResult:
        return cls(**{name: int(counts.get(name, 0)) for name in vars(cls())})


@dataclass(frozen=True)
class Problem:
    """A bad line: its number, the field at fault (``record`` when the line as a whole) and
    what is wrong, as ``line 7: email: ...``."""

    line: int
    field: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.text}"

    @classmethod
    def of_field(cls, line: int, field_: str, message: str) -> Problem:
        return cls(line, field_, f"{field_}: {message}")


@dataclass(slots=True)
class CheckedGroup:
    line: int
    name: str
    description: str | None
    parent: str | None


@dataclass(slots=True)
class CheckedTeam:
    line: int
    name: str
    description: str | None


@dataclass(slots=True)
class CheckedUser:
    """A user line with every rule applied: the columns its fields are stored as (keys and
    login name derived), and the names of the rows it refers to."""

    line: int
    columns: dict[str, Any]
    role: str | None
    team: str | None
    groups: list[str]
    last_login_at: datetime | None
    status: UserStatus

    @property
    def username_key(self) -> str:
        return str(self.columns["username_key"])

    @property
    def email_key(self) -> str | None:
        return self.columns.get("email_key")


Checked = CheckedGroup | CheckedTeam | CheckedUser


def dump_batch(items: list[Checked]) -> bytes:
    """A batch of checked items as one line of JSON, for the spool of a checked file."""
    rows: list[list[Any]] = []
    for item in items:
        if isinstance(item, CheckedUser):
            rows.append(
                [
                    "u",
                    item.line,
                    item.columns,
                    item.role,
                    item.team,
                    item.groups,
                    item.last_login_at,
                    item.status.value,
                ]
            )
        elif isinstance(item, CheckedGroup):
            rows.append(["g", item.line, item.name, item.description, item.parent])
        else:
            rows.append(["t", item.line, item.name, item.description])
    return orjson.dumps(rows) + b"\n"


def load_batch(data: bytes) -> list[Checked]:
    """``dump_batch``'s items again."""
    items: list[Checked] = []
    for row in orjson.loads(data):
        kind = row[0]
        if kind == "u":
            _, line, columns, role, team, groups, seen, status = row
            at = datetime.fromisoformat(seen) if seen is not None else None
            items.append(CheckedUser(line, columns, role, team, groups, at, UserStatus(status)))
        elif kind == "g":
            items.append(CheckedGroup(*row[1:]))
        else:
            items.append(CheckedTeam(*row[1:]))
    return items


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
    """One JSON Lines line as a record; Invalid naming the line and the first fault."""
    record = parse_raw(RawRecord(line_number, text=line))
    if isinstance(record, list):
        first = record[0]
        raise Invalid(str(first), [FieldError(first.field, first.text)])
    return record


def parse_raw(raw: RawRecord) -> GroupRecord | TeamRecord | UserRecord | list[Problem]:
    """A record as read, as a record, or every fault it has."""
    if raw.error is not None:
        return [Problem.of_field(raw.line, *raw.error)]
    try:
        if raw.text is not None:
            return _Line.model_validate_json(f'{{"record": {raw.text}}}').record
        return _Line.model_validate({"record": raw.cells}).record
    except ValidationError as exc:
        return [
            Problem.of_field(
                raw.line, ".".join(str(p) for p in error["loc"][2:]) or "record", error["msg"]
            )
            for error in exc.errors()
        ]


def check(line: int, record: GroupRecord | TeamRecord | UserRecord) -> Checked:
    """A parsed record with the domain's rules applied (names of other rows are looked up
    when written); Invalid naming the line and the field when a rule refuses it."""
    if isinstance(record, GroupRecord):
        return CheckedGroup(line, record.name, record.description, record.parent)
    if isinstance(record, TeamRecord):
        return CheckedTeam(line, record.name, record.description)
    # The record's own user fields; names of other rows and what only an import sets aside.
    fields = record.model_dump(
        exclude={"type", "role", "team", "groups", "last_login_at", "status"}
    )
    if not fields["username"]:
        del fields["username"]
    try:
        columns = user_fields.columns(fields, None, strict_phone=False)
        user_fields.login_name(columns)
        if record.last_login_at is not None and record.last_login_at.tzinfo is None:
            raise invalid_field("last_login_at", "needs a time zone (e.g. 2026-01-31T09:00:00Z)")
    except DomainError as exc:
        raise type(exc)(f"line {line}: {exc.message}", exc.details) from exc
    # Each group once, as first spelled (names are looked up case-insensitively).
    first: dict[str, str] = {}
    for name in record.groups:
        first.setdefault(name.lower(), name)
    groups = list(first.values())
    return CheckedUser(
        line, columns, record.role, record.team, groups, record.last_login_at, record.status
    )


def import_batch(
    session: Session,
    actor: Actor,
    names: Names,
    batch: Iterable[tuple[int, GroupRecord | TeamRecord | UserRecord]],
) -> ImportResult:
    """Check and write one batch of parsed records (see ``write_batch``)."""
    return write_batch(session, actor, names, [check(n, record) for n, record in batch])


@dataclass(frozen=True)
class JournalEntry:
    """The import and file lines a batch stands for, journaled in its transaction."""

    import_id: str
    first_line: int
    last_line: int


def write_batch(
    session: Session,
    actor: Actor,
    names: Names,
    batch: list[Checked],
    journal: JournalEntry | None = None,
    *,
    look_up_existing: bool = True,
    numbered_from: int | None = None,
) -> ImportResult:
    """Write one batch of checked items, and its journal entry; raises with the offending
    line on any problem.

    Users the tenant has by login name are passed over (``look_up_existing``: a query per
    thousand; a caller whose check found none of the file's users there leaves it out, and a
    user made meanwhile by another writer is then the unique index's conflict).

    Duplicate usernames or emails (against the store or within the batch) are found by the
    unique indexes, without a query per record: the conflict then names the field and the
    batch's lines, and the caller's transaction is to be rolled back.

    The new users take the numbers from ``numbered_from`` on when the caller reserved them
    (``reserve_user_numbers``), else numbers reserved in the batch's transaction.
    """
    try:
        done = _write_batch(session, actor, names, batch, look_up_existing, numbered_from)
    except IntegrityError as exc:
        conflict = conflict_of(exc)
        if conflict is None:
            raise
        lines = f"lines {batch[0].line}-{batch[-1].line}" if batch else "batch"
        raise Conflict(
            f"{lines}: {conflict.details[0].field} already taken (in the store or in this batch)",
            conflict.details,
        ) from exc
    if journal is not None:
        import_journal.record(
            session,
            actor.tenant_id,
            journal.import_id,
            journal.first_line,
            journal.last_line,
            done.counts(),
        )
    return done


def forget_old_imports(
    session: Session, tenant_id: uuid.UUID, now: datetime, retention_days: int, batch: int
) -> int:
    """Delete at most ``batch`` journal rows of the tenant's imports whose last batch is
    older than ``retention_days``; how many went. Forgetting is safe: a re-run of such an
    import writes from its first line again, finding what it made there (counted as
    existing). The scheduler calls it again, each time in a transaction of its own, while a
    full batch went."""
    return import_journal.delete_finished_before(
        session, tenant_id, now - timedelta(days=retention_days), batch
    )


def reserve_user_numbers(session: Session, actor: Actor, batch: list[Checked]) -> int:
    """Reserve a number for each user of ``batch``; the first. On PostgreSQL the counter
    moves on the store's autonomous connection and is committed at once, as a sequence
    hands out values (``tenants_repo.user_number``), so a batch written with these numbers
    (``write_batch``'s ``numbered_from``) takes no lock on the tenant's row; the numbers of
    a batch that fails are not used again."""
    users = sum(isinstance(item, CheckedUser) for item in batch)
    return tenants_repo.allocate_user_numbers(session, actor.tenant_id, users)


def _write_batch(
    session: Session,
    actor: Actor,
    names: Names,
    batch: list[Checked],
    look_up_existing: bool,
    numbered_from: int | None,
) -> ImportResult:
    result = ImportResult()
    bulk_repo.prepare_load(session)
    now = utcnow()
    groups: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    audit_rows: list[dict[str, Any]] = []
    new_users = [item for item in batch if isinstance(item, CheckedUser)]
    existing_users: set[str] = set()
    if look_up_existing:
        keys = [u.username_key for u in new_users]
        existing_users, _ = bulk_repo.taken_user_keys(session, actor.tenant_id, keys, [])
    for item in batch:
        if isinstance(item, CheckedGroup):
            if item.name.lower() in names.groups:
                result.existing_groups += 1
                continue
            group_id = _new_name(names.groups, item.name)
            parent = _lookup(names.groups, item.parent, "parent group", item.line)
            groups.append(
                {
                    "id": group_id,
                    "tenant_id": actor.tenant_id,
                    "name": item.name,
                    "description": item.description,
                    "parent_id": parent,
                    "external_id": None,
                    "created_at": now,
                    "modified_at": now,
                    "version": 1,
                }
            )
            audit_rows.append(_audit(actor, "group.created", "group", group_id, item.name, now))
            result.groups += 1
        elif isinstance(item, CheckedTeam):
            if item.name.lower() in names.teams:
                result.existing_teams += 1
                continue
            team_id = _new_name(names.teams, item.name)
            teams.append(
                {
                    "id": team_id,
                    "tenant_id": actor.tenant_id,
                    "name": item.name,
                    "description": item.description,
                    "manager_id": None,
                    "created_at": now,
                    "modified_at": now,
                }
            )
            audit_rows.append(_audit(actor, "team.created", "team", team_id, item.name, now))
            result.teams += 1
        elif item.username_key in existing_users:
            result.existing_users += 1
        else:
            user = _user_row(actor, names, item, now)
            users.append(user)
            for name in item.groups:
                memberships.append(
                    {
                        "group_id": _lookup(names.groups, name, "group", item.line),
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
        first = numbered_from
        if first is None:
            first = tenants_repo.allocate_user_numbers(session, actor.tenant_id, len(users))
        for offset, row in enumerate(users):
            row["number"] = first + offset
        bulk_repo.insert_users(session, users)
        bulk_repo.insert_memberships(session, memberships)
        result.users, result.memberships = len(users), len(memberships)
    bulk_repo.insert_audit(session, audit_rows)
    return result


def _user_row(actor: Actor, names: Names, item: CheckedUser, now: datetime) -> dict[str, Any]:
    return {
        **item.columns,
        "id": uuid.uuid4(),
        "tenant_id": actor.tenant_id,
        "email_unique": not names.shared_emails,
        "status": item.status,
        "role_id": _lookup(names.roles, item.role, "role", item.line),
        "team_id": _lookup(names.teams, item.team, "team", item.line),
        "last_login_at": item.last_login_at,
        "created_at": now,
        "modified_at": now,
        "version": 1,
    }


def _new_name(table: dict[str, uuid.UUID], name: str) -> uuid.UUID:
    table[name.lower()] = uuid.uuid4()
    return table[name.lower()]


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
