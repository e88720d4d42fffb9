"""Audit trail: every mutation records one event in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from rosterd.models import Group, Role, Team, User
from rosterd.repositories import audit as audit_repo
from rosterd.services.context import Actor


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
