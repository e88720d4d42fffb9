"""Audit trail: every mutation records one event in the same transaction.

The same row is the event feed's outbox (rosterd.events.feed); the audit API reads it here.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from rosterd.models import AuditEvent, Group, Role, Team, User
from rosterd.repositories import audit as audit_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories.audit import AuditFilter
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field


def jsonable(value: Any) -> Any:
    """``value`` as it is kept in an audit row's JSON."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


_SNAPSHOT_FIELDS: dict[type, tuple[str, ...]] = {
    User: (
        "username",
        "email",
        "emails",
        "first_name",
        "last_name",
        "display_name",
        "title",
        "department",
        "locale",
        "phone",
        "phone_numbers",
        "status",
        "role_id",
        "team_id",
        "external_id",
        "valid_from",
        "expires_at",
        "employee_number",
        "division",
        "organization",
        "cost_center",
        "manager_id",
        "identity_key",
        "preferences",
    ),
    Group: ("name", "description", "parent_id", "external_id"),
    Role: ("name", "description", "permissions", "is_system"),
    Team: ("name", "description", "manager_id"),
}


def snapshot(entity: User | Group | Role | Team) -> dict[str, Any]:
    """The audited fields of an entity; secrets such as password hashes are never included."""
    return {f: jsonable(getattr(entity, f)) for f in _SNAPSHOT_FIELDS[type(entity)]}


def record(
    session: Session,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_repo.add(
        session,
        {
            "tenant_id": actor.tenant_id,
            "actor": actor.actor,
            "surface": actor.surface,
            "action": action,
            "resource_type": resource_type,
            "resource_id": str(resource_id),
            "before": before,
            "after": after,
            "request_id": actor.request_id,
        },
    )


# ---- reading the trail ---------------------------------------------------------------------


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None  # None: this is the last page


def _encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"a{before_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raw = ""
    if not (raw.startswith("a") and raw[1:].isdigit() and int(raw[1:]) < 2**63):
        raise invalid_field("cursor", "not a cursor this API returned")
    return int(raw[1:])


def list_events(
    session: Session, actor: Actor, where: AuditFilter, *, cursor: str | None, limit: int
) -> AuditPage:
    """One keyset page of the tenant's audit events matching ``where``, newest first."""
    if where.since is not None and where.until is not None and where.since >= where.until:
        raise invalid_field("since", "must be before until")
    before_id = None if cursor is None else _decode(cursor)
    rows = audit_repo.newest_first(
        session, actor.tenant_id, where, before_id=before_id, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(events=rows, next_cursor=_encode(rows[-1].id) if more else None)


def tenant_ids(session: Session) -> list[uuid.UUID]:
    """Every tenant, whose trail retention goes through one at a time."""
    return [tenant.id for tenant in tenants_repo.list_all(session)]


def purge(
    session: Session, tenant_id: uuid.UUID, now: datetime, retention_days: int, batch: int
) -> int:
    """Delete at most ``batch`` of the tenant's events older than ``retention_days``; returns
    how many went. Bounded: the scheduler calls it again, each time in a transaction of its
    own, while a full batch went. Deleting what is due is idempotent, so several nodes may
    run it at once."""
    return audit_repo.delete_older_than(
        session, tenant_id, now - timedelta(days=retention_days), batch
    )
