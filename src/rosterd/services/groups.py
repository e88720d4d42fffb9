"""Groups: hierarchy without cycles, and memberships."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rosterd.models import Group, User
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, FieldError, Invalid, NotFound, invalid_field

MUTABLE_FIELDS = frozenset({"name", "description", "parent_id", "external_id"})


def get_group(session: Session, actor: Actor, group_id: uuid.UUID) -> Group:
    group = groups_repo.get(session, actor.tenant_id, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    return group


def list_groups(
    session: Session,
    actor: Actor,
    *,
    query: str | None = None,
    parent_id: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[Group], int]:
    return groups_repo.search(
        session, actor.tenant_id, query=query, parent_id=parent_id, offset=offset, limit=limit
    )


def member_counts(session: Session, actor: Actor, groups: list[Group]) -> dict[uuid.UUID, int]:
    return groups_repo.member_counts(session, actor.tenant_id, [g.id for g in groups])


def _check_name(session: Session, actor: Actor, name: str, exclude: uuid.UUID | None) -> None:
    if not name.strip():
        raise invalid_field("name", "must not be blank")
    other = groups_repo.find_by_name(session, actor.tenant_id, name)
    if other is not None and other.id != exclude:
        raise Conflict(
            f"a group named {name!r} already exists", [FieldError("name", "already taken")]
        )


def _check_parent(
    session: Session, actor: Actor, group_id: uuid.UUID | None, parent_id: uuid.UUID
) -> None:
    if groups_repo.get(session, actor.tenant_id, parent_id) is None:
        raise invalid_field("parent_id", f"group {parent_id} does not exist")
    seen: set[uuid.UUID] = set()
    cursor: uuid.UUID | None = parent_id
    while cursor is not None and cursor not in seen:
        if cursor == group_id:
            raise invalid_field("parent_id", "a group cannot be its own ancestor")
        seen.add(cursor)
        cursor = groups_repo.parent_of(session, actor.tenant_id, cursor)


def create_group(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str | None = None,
    parent_id: uuid.UUID | None = None,
    external_id: str | None = None,
) -> Group:
    _check_name(session, actor, name, None)
    if parent_id is not None:
        _check_parent(session, actor, None, parent_id)
    group = groups_repo.add(
        session,
        Group(
            tenant_id=actor.tenant_id,
            name=name,
            description=description,
            parent_id=parent_id,
            external_id=external_id,
        ),
    )
    audit.record(session, actor, "group.created", "group", group.id, after=audit.snapshot(group))
    return group


def update_group(
    session: Session, actor: Actor, group_id: uuid.UUID, changes: Mapping[str, Any]
) -> Group:
    unknown = set(changes) - MUTABLE_FIELDS
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    group = get_group(session, actor, group_id)
    if "name" in changes:
        if changes["name"] is None:
            raise invalid_field("name", "must not be null")
        _check_name(session, actor, changes["name"], group.id)
    if changes.get("parent_id") is not None:
        _check_parent(session, actor, group.id, changes["parent_id"])
    before = audit.snapshot(group)
    for name, value in changes.items():
        setattr(group, name, value)
    after = audit.snapshot(group)
    if after != before:
        session.flush()
        audit.record(session, actor, "group.updated", "group", group.id, before=before, after=after)
    return group


def delete_group(session: Session, actor: Actor, group_id: uuid.UUID) -> None:
    group = get_group(session, actor, group_id)
    before = audit.snapshot(group)
    groups_repo.remove(session, group)
    audit.record(session, actor, "group.deleted", "group", group_id, before=before)


def list_members(
    session: Session, actor: Actor, group_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[User], int]:
    get_group(session, actor, group_id)
    return groups_repo.members(session, actor.tenant_id, group_id, offset=offset, limit=limit)


def add_member(session: Session, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> datetime:
    get_group(session, actor, group_id)
    if users_repo.get(session, actor.tenant_id, user_id) is None:
        raise NotFound(f"user {user_id} not found")
    if groups_repo.is_member(session, actor.tenant_id, group_id, user_id):
        raise Conflict(f"user {user_id} is already a member of group {group_id}")
    membership = groups_repo.add_member(session, actor.tenant_id, group_id, user_id)
    audit.record(
        session, actor, "group.member_added", "group", group_id, after={"user_id": str(user_id)}
    )
    return membership.created_at


def remove_member(session: Session, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    get_group(session, actor, group_id)
    if not groups_repo.remove_member(session, actor.tenant_id, group_id, user_id):
        raise NotFound(f"user {user_id} is not a member of group {group_id}")
    audit.record(
        session, actor, "group.member_removed", "group", group_id, before={"user_id": str(user_id)}
    )
