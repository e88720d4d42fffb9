"""Roles. System roles are seeded per tenant and cannot be changed or deleted."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from rosterd.domain import rules
from rosterd.domain.commands import NewRole, RolePatch
from rosterd.models import Role
from rosterd.repositories import roles as roles_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    invalid_field,
)
from rosterd.services.names import checked_name

# A permission is a short name ("users:read").
PERMISSION_LENGTH = 100


def get_role(session: Session, actor: Actor, role_id: uuid.UUID) -> Role:
    role = roles_repo.get(session, actor.tenant_id, role_id)
    if role is None:
        raise NotFound(f"role {role_id} not found")
    return role


def list_roles(
    session: Session, actor: Actor, *, offset: int = 0, limit: int = 25
) -> tuple[list[Role], int]:
    return roles_repo.search(session, actor.tenant_id, offset=offset, limit=limit)


def page_roles(
    session: Session, actor: Actor, *, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[Role]:
    """``list_roles``' order by keyset (the console's pages; the API's keep offset)."""
    return roles_repo.page_after(session, actor.tenant_id, after=after, limit=limit)


def user_counts(session: Session, actor: Actor, roles: list[Role]) -> dict[uuid.UUID, int]:
    return roles_repo.user_counts(session, actor.tenant_id, [r.id for r in roles])


def create_role(session: Session, actor: Actor, data: NewRole) -> Role:
    name = checked_name(Role, data.name, _finder(session, actor))
    rules.texts(Role, {"description": data.description})
    role = roles_repo.add(
        session,
        Role(
            tenant_id=actor.tenant_id,
            name=name,
            description=data.description,
            permissions=_permissions(data.permissions),
            is_system=False,
        ),
    )
    audit.record(session, actor, "role.created", "role", role.id, after=audit.snapshot(role))
    return role


def _finder(session: Session, actor: Actor) -> Callable[[str], Role | None]:
    return lambda name: roles_repo.find_by_name(session, actor.tenant_id, name)


def _permissions(values: Sequence[str] | None) -> list[str]:
    if values is None:
        raise invalid_field("permissions", "must not be null")
    for value in values:
        rules.text(value, "permissions", PERMISSION_LENGTH)
    return list(dict.fromkeys(values))


def update_role(session: Session, actor: Actor, role_id: uuid.UUID, patch: RolePatch) -> Role:
    changes = patch.sent()
    role = roles_repo.get(session, actor.tenant_id, role_id, for_update=True)
    if role is None:
        raise NotFound(f"role {role_id} not found")
    if role.is_system:
        raise Forbidden(f"role {role.name!r} is a system role and cannot be modified")
    rules.texts(Role, changes)
    if "name" in changes and changes["name"] != role.name:
        checked_name(Role, changes["name"], _finder(session, actor), role.id)
    if "permissions" in changes:
        changes["permissions"] = _permissions(changes["permissions"])
    before = audit.snapshot(role)
    for name, value in changes.items():
        setattr(role, name, value)
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
