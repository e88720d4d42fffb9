"""Groups: hierarchy without cycles, and memberships."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from scim2_models.path import AttrPath, FilterNode
from sqlalchemy.orm import Session

from rosterd.domain import rules
from rosterd.domain.commands import GroupPatch, NewGroup
from rosterd.models import Group, User
from rosterd.models.base import utcnow
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import scim_filter
from rosterd.repositories import users as users_repo
from rosterd.services import audit, lifecycle
from rosterd.services.context import Actor
from rosterd.services.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionFailed,
    invalid_field,
)
from rosterd.services.names import checked_name


def get_group(session: Session, actor: Actor, group_id: uuid.UUID) -> Group:
    group = groups_repo.get(session, actor.tenant_id, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    return group


def lock_group(
    session: Session, actor: Actor, group_id: uuid.UUID, *, version: int | None = None
) -> Group:
    """The group, locked for this transaction before it is read (see groups_repo.lock): the
    one read a write starts with. ``version`` is the one the caller's If-Match names."""
    group = groups_repo.get_for_update(session, actor.tenant_id, group_id)
    if group is None:
        raise NotFound(f"group {group_id} not found")
    check_version(group, version)
    return group


def _change_members_of(session: Session, actor: Actor, group_id: uuid.UUID) -> None:
    """Start a change of the group's members: its row locked and given a new version
    (``groups_repo.touch``, one statement where reading the group and touching it after took
    two); not found, a 404. A change that fails after it is rolled back with it."""
    if not groups_repo.touch(session, actor.tenant_id, [group_id]):
        raise NotFound(f"group {group_id} not found")


def list_groups(
    session: Session,
    actor: Actor,
    *,
    query: str | None = None,
    parent_id: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 25,
    after: tuple[str, uuid.UUID] | None = None,
    roots_only: bool = False,
) -> tuple[list[Group], int]:
    return groups_repo.search(
        session,
        actor.tenant_id,
        query=query,
        parent_id=parent_id,
        offset=offset,
        limit=limit,
        after=after,
        roots_only=roots_only,
    )


def member_counts(session: Session, actor: Actor, groups: list[Group]) -> dict[uuid.UUID, int]:
    return groups_repo.member_counts(session, actor.tenant_id, [g.id for g in groups])


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


def create_group(session: Session, actor: Actor, data: NewGroup) -> Group:
    name = checked_name(Group, data.name, _finder(session, actor))
    rules.texts(Group, {"description": data.description, "external_id": data.external_id})
    if data.parent_id is not None:
        _check_parent(session, actor, None, data.parent_id)
    group = groups_repo.add(
        session,
        Group(
            tenant_id=actor.tenant_id,
            name=name,
            description=data.description,
            parent_id=data.parent_id,
            external_id=data.external_id,
        ),
    )
    audit.record(session, actor, "group.created", "group", group.id, after=audit.snapshot(group))
    return group


def _finder(session: Session, actor: Actor) -> Callable[[str], Group | None]:
    return lambda name: groups_repo.find_by_name(session, actor.tenant_id, name)


def update_group(session: Session, actor: Actor, group: Group, patch: GroupPatch) -> Group:
    """Change the group's own fields; ``group`` comes from ``lock_group``."""
    changes = patch.sent()
    rules.texts(Group, changes)
    if "name" in changes and changes["name"] != group.name:
        checked_name(Group, changes["name"], _finder(session, actor), group.id)
    if changes.get("parent_id") is not None and changes["parent_id"] != group.parent_id:
        _check_parent(session, actor, group.id, changes["parent_id"])
    before = audit.snapshot(group)
    for name, value in changes.items():
        setattr(group, name, value)
    after = audit.snapshot(group)
    if after != before:
        session.flush()
        audit.record(session, actor, "group.updated", "group", group.id, before=before, after=after)
    return group


def delete_group(session: Session, actor: Actor, group: Group) -> None:
    """Delete the group; ``group`` comes from ``lock_group``."""
    before = audit.snapshot(group)
    groups_repo.remove(session, group)
    audit.record(session, actor, "group.deleted", "group", group.id, before=before)


def list_members(
    session: Session, actor: Actor, group_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[tuple[User, datetime | None]], int]:
    """A page of the group's members, each with its membership's expiry (None: none)."""
    get_group(session, actor, group_id)
    return groups_repo.members(session, actor.tenant_id, group_id, offset=offset, limit=limit)


def add_member(
    session: Session,
    actor: Actor,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    expires_at: datetime | None = None,
) -> datetime:
    """Add one member, until ``expires_at`` if given (the scheduler then removes it); a user
    who is already one is a conflict (REST v2's contract)."""
    added_at = utcnow()
    expires_at = lifecycle.membership_expiry(expires_at, added_at)
    _change_members_of(session, actor, group_id)
    added = groups_repo.add_members(
        session, actor.tenant_id, group_id, [user_id], at=added_at, expires_at=expires_at
    )
    if not added:
        # Nothing added: the user is a member already, or no user of the tenant (asked only
        # now, so the common case is one statement).
        if not users_repo.exists(session, actor.tenant_id, user_id):
            raise NotFound(f"user {user_id} not found")
        raise Conflict(f"user {user_id} is already a member of group {group_id}")
    after = {"user_id": str(user_id)}
    if expires_at is not None:
        after["expires_at"] = audit.jsonable(expires_at)
    audit.record(session, actor, "group.member_added", "group", group_id, after=after)
    return added_at


def remove_member(session: Session, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> None:
    _change_members_of(session, actor, group_id)
    if not groups_repo.remove_members(session, actor.tenant_id, group_id, [user_id]):
        raise NotFound(f"user {user_id} is not a member of group {group_id}")
    audit.record(
        session, actor, "group.member_removed", "group", group_id, before={"user_id": str(user_id)}
    )


def search_by_filter(
    session: Session,
    actor: Actor,
    filter_tree: FilterNode | None,
    *,
    sort_by: AttrPath | None,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[Group], int]:
    """Groups matching a SCIM filter, evaluated in the database."""
    try:
        return scim_filter.search(
            session,
            Group,
            actor.tenant_id,
            filter_tree,
            sort_by=sort_by,
            descending=descending,
            offset=offset,
            limit=limit,
        )
    except scim_filter.UnsupportedFilter as exc:
        raise Invalid(str(exc), code="invalidFilter") from exc


def members_of_groups(
    session: Session, actor: Actor, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    return groups_repo.members_of_many(session, actor.tenant_id, group_ids)


@dataclass(frozen=True)
class MemberChange:
    """Who a membership change actually added and removed (no-ops left out)."""

    added: list[uuid.UUID]
    removed: list[uuid.UUID]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def _require_users(session: Session, actor: Actor, user_ids: Collection[uuid.UUID]) -> None:
    """Refuse ids that are no user of the tenant (one query, whatever the group's size)."""
    if not user_ids:
        return
    missing = set(user_ids) - groups_repo.existing_user_ids(
        session, actor.tenant_id, list(user_ids)
    )
    if missing:
        raise invalid_field(
            "members", f"no such user(s): {', '.join(sorted(str(m) for m in missing))}"
        )


def _record(session: Session, actor: Actor, group: Group, change: MemberChange) -> MemberChange:
    """Move the group's version with its members and audit what really changed."""
    if change:
        groups_repo.touch(session, actor.tenant_id, [group.id])
        audit.record(
            session,
            actor,
            "group.members_changed",
            "group",
            group.id,
            before={"removed": sorted(str(u) for u in change.removed)},
            after={"added": sorted(str(u) for u in change.added)},
        )
    return change


def change_members(
    session: Session,
    actor: Actor,
    group: Group,
    *,
    add: Collection[uuid.UUID] = (),
    remove: Collection[uuid.UUID] = (),
) -> MemberChange:
    """Add and remove members of ``group`` (from ``lock_group``) in one step.

    Adding a member twice or removing a non-member changes nothing (the idempotent semantics
    IdPs rely on). Set-based: a statement each to check the users, insert and delete, so the
    cost follows the ids given, not the size of the group. An id in both lists is removed.
    """
    to_add = set(add) - set(remove)
    _require_users(session, actor, to_add)
    removed = groups_repo.remove_members(session, actor.tenant_id, group.id, list(remove))
    added = groups_repo.add_members(session, actor.tenant_id, group.id, list(to_add))
    return _record(session, actor, group, MemberChange(added, removed))


def set_members(
    session: Session, actor: Actor, group: Group, user_ids: Collection[uuid.UUID]
) -> MemberChange:
    """Make the member set of ``group`` (from ``lock_group``) exactly ``user_ids``.

    Reads the current members (a replacement is proportional to the group), then deletes
    and inserts only the difference.
    """
    wanted = set(user_ids)
    _require_users(session, actor, wanted)
    if not wanted:
        removed = groups_repo.remove_all_members(session, actor.tenant_id, group.id)
        return _record(session, actor, group, MemberChange([], removed))
    current = groups_repo.member_ids(session, actor.tenant_id, group.id)
    removed = groups_repo.remove_members(session, actor.tenant_id, group.id, list(current - wanted))
    added = groups_repo.add_members(session, actor.tenant_id, group.id, list(wanted - current))
    return _record(session, actor, group, MemberChange(added, removed))


def check_version(group: Group, expected: int | None) -> None:
    if expected is not None and expected != group.version:
        raise PreconditionFailed(f"group {group.id} is at version {group.version}, not {expected}")


def find_by_name(session: Session, actor: Actor, name: str) -> Group | None:
    return groups_repo.find_by_name(session, actor.tenant_id, name)


def find(session: Session, actor: Actor, ref: str) -> Group | None:
    """A group by id or, failing that, by name (case-insensitive)."""
    try:
        group = groups_repo.get(session, actor.tenant_id, uuid.UUID(ref))
    except ValueError:
        group = None
    return group or groups_repo.find_by_name(session, actor.tenant_id, ref)


GroupKey = tuple[str, uuid.UUID]


def groups_chunk(
    session: Session, actor: Actor, *, after: GroupKey | None, offset: int, size: int
) -> tuple[list[Group], GroupKey | None]:
    """Groups by name, and the key to pass as ``after`` for the ones that follow."""
    groups = groups_repo.chunk_by_name(
        session, actor.tenant_id, after=after, offset=offset, size=size
    )
    return groups, ((groups[-1].name, groups[-1].id) if groups else None)
