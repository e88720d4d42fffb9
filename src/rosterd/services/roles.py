"""Roles. System roles are seeded per tenant and cannot be changed or deleted."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from rosterd.domain import rules
from rosterd.models import Role
from rosterd.repositories import roles as roles_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    invalid_field,
)

MUTABLE_FIELDS = frozenset({"name", "description", "permissions"})


def get_role(session: Session, actor: Actor, role_id: uuid.UUID) -> Role:
    role = roles_repo.get(session, actor.tenant_id, role_id)
    if role is None:
        raise NotFound(f"role {role_id} not found")
    return role


def list_roles(
    session: Session, actor: Actor, *, offset: int = 0, limit: int = 25
) -> tuple[list[Role], int]:
    return roles_repo.search(session, actor.tenant_id, offset=offset, limit=limit)


def user_counts(session: Session, actor: Actor, roles: list[Role]) -> dict[uuid.UUID, int]:
    return roles_repo.user_counts(session, actor.tenant_id, [r.id for r in roles])


def _check_name(session: Session, actor: Actor, name: str, exclude: uuid.UUID | None) -> None:
    if not name.strip():
        raise invalid_field("name", "must not be blank")
    other = roles_repo.find_by_name(session, actor.tenant_id, name)
    if other is not None and other.id != exclude:
        raise Conflict(
            f"a role named {name!r} already exists", [FieldError("name", "already taken")]
        )


def create_role(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str | None = None,
    permissions: list[str] | None = None,
) -> Role:
    _check_name(session, actor, name, None)
    rules.texts(Role, {"name": name, "description": description})
    role = roles_repo.add(
        session,
        Role(
            tenant_id=actor.tenant_id,
            name=name,
            description=description,
            permissions=list(dict.fromkeys(permissions or [])),
            is_system=False,
        ),
    )
    audit.record(session, actor, "role.created", "role", role.id, after=audit.snapshot(role))
    return role


def update_role(
    session: Session, actor: Actor, role_id: uuid.UUID, changes: Mapping[str, Any]
) -> Role:
    unknown = set(changes) - MUTABLE_FIELDS
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    rules.texts(Role, changes)
    role = get_role(session, actor, role_id)
    if role.is_system:
        raise Forbidden(f"role {role.name!r} is a system role and cannot be modified")
    if "name" in changes:
        if changes["name"] is None:
            raise invalid_field("name", "must not be null")
        _check_name(session, actor, changes["name"], role.id)
    before = audit.snapshot(role)
    for name, value in changes.items():
        setattr(role, name, list(dict.fromkeys(value or [])) if name == "permissions" else value)
    after = audit.snapshot(role)
    if after != before:
        session.flush()
        audit.record(session, actor, "role.updated", "role", role.id, before=before, after=after)
    return role


def delete_role(session: Session, actor: Actor, role_id: uuid.UUID) -> None:
    role = get_role(session, actor, role_id)
    if role.is_system:
        raise Forbidden(f"role {role.name!r} is a system role and cannot be deleted")
    assigned = users_repo.count_with_role(session, actor.tenant_id, role.id)
    if assigned:
        raise Conflict(f"role {role.name!r} is assigned to {assigned} user(s); reassign them first")
    before = audit.snapshot(role)
    roles_repo.remove(session, role)
    audit.record(session, actor, "role.deleted", "role", role_id, before=before)


def find(session: Session, actor: Actor, ref: str) -> Role | None:
    """A role by id or, failing that, by name (case-insensitive)."""
    try:
        role = roles_repo.get(session, actor.tenant_id, uuid.UUID(ref))
    except ValueError:
        role = None
    return role or roles_repo.find_by_name(session, actor.tenant_id, ref)
