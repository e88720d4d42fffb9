from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from rosterd.db.prepared import PointReader, Prepared
from rosterd.models import Group, GroupMembership, User
from rosterd.models.base import utcnow
from rosterd.models.user import SORT_NAME
from rosterd.repositories._sql import contains_ci, count


def get(session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID) -> Group | None:
    return session.scalar(select(Group).where(Group.tenant_id == tenant_id, Group.id == group_id))


def lock(session: Session, tenant_id: uuid.UUID, group_ids: Sequence[uuid.UUID]) -> list[Group]:
    """The groups among ``group_ids``, read fresh and locked until the transaction ends.

    Writers lock a group before they read it for update, so concurrent writes to one group
    queue instead of failing on the ORM's version check. Rows are locked in id order, the
    one order every writer of several groups uses, so two writers cannot deadlock on them.
    ``FOR NO KEY UPDATE`` (PostgreSQL): inserting a membership, which takes a key-share lock
    on its group, does not wait for it. SQLite runs one writer at a time and has no row
    locks; SQLAlchemy leaves the clause out there.
    """
    if not group_ids:
        return []
    return list(
        session.scalars(
            select(Group)
            .where(Group.tenant_id == tenant_id, Group.id.in_(list(group_ids)))
            .order_by(Group.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
    )


def _lock_ids(session: Session, stmt: Select[Any]) -> None:
    """Lock the group rows ``stmt`` selects, in id order (see ``lock``); nothing to do on
    SQLite, whose one writer at a time already holds them all."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(stmt.order_by(Group.id).with_for_update(key_share=True))


# ``lock`` of one group, built once: building the statement cost more than running it.
_ONE_FOR_UPDATE = (
    select(Group)
    .where(Group.tenant_id == bindparam("tenant_id"), Group.id == bindparam("group_id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def get_for_update(session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID) -> Group | None:
    """The group, locked and read fresh (see ``lock``)."""
    return session.scalar(_ONE_FOR_UPDATE, {"tenant_id": tenant_id, "group_id": group_id})


def get_many(session: Session, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[Group]:
    if not ids:
        return []
    return list(
        session.scalars(select(Group).where(Group.tenant_id == tenant_id, Group.id.in_(ids)))
    )


def find_by_name(session: Session, tenant_id: uuid.UUID, name: str) -> Group | None:
    return session.scalar(
        select(Group).where(
            Group.tenant_id == tenant_id, func.lower(Group.name) == func.lower(name)
        )
    )


def search(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    query: str | None,
    parent_id: uuid.UUID | None,
    offset: int,
    limit: int,
    after: tuple[str, uuid.UUID] | None = None,
    roots_only: bool = False,
) -> tuple[list[Group], int]:
    """A page of the tenant's groups in name order (case-insensitive, then id): past
    ``offset`` rows, or after the group of this (name, id) — a keyset page, which groups
    created or deleted before it do not shift — and how many groups match. ``roots_only``:
    the groups without a parent (the top of the tree)."""
    stmt = select(Group).where(Group.tenant_id == tenant_id)
    if query:
        stmt = stmt.where(contains_ci([Group.name], query))
    if parent_id is not None:
        stmt = stmt.where(Group.parent_id == parent_id)
    if roots_only:
        stmt = stmt.where(Group.parent_id.is_(None))
    total = count(session, stmt)
    if after is not None:
        name, last_id = after
        key, last_key = func.lower(Group.name), func.lower(name)
        stmt = stmt.where(or_(key > last_key, and_(key == last_key, Group.id > last_id)))
    rows = session.scalars(
        stmt.order_by(func.lower(Group.name), Group.id).offset(offset).limit(limit)
    )
    return list(rows), total


def member_counts(
    session: Session, tenant_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not group_ids:
        return {}
    rows = session.execute(
        select(GroupMembership.group_id, func.count())
        .where(GroupMembership.tenant_id == tenant_id, GroupMembership.group_id.in_(group_ids))
        .group_by(GroupMembership.group_id)
    )
    return {gid: int(n) for gid, n in rows}


def parent_of(session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(
        select(Group.parent_id).where(Group.tenant_id == tenant_id, Group.id == group_id)
    )


def add(session: Session, group: Group) -> Group:
    session.add(group)
    session.flush()
    return group


def remove(session: Session, group: Group) -> None:
    """Delete a group; its children move up to its parent and its memberships go.

    The caller holds the group's lock; the children are locked in id order (see ``lock``).
    """
    _lock_ids(
        session,
        select(Group.id).where(Group.tenant_id == group.tenant_id, Group.parent_id == group.id),
    )
    session.execute(
        update(Group)
        .where(Group.tenant_id == group.tenant_id, Group.parent_id == group.id)
        .values(parent_id=group.parent_id, version=Group.version + 1)
    )
    session.execute(
        delete(GroupMembership).where(
            GroupMembership.tenant_id == group.tenant_id, GroupMembership.group_id == group.id
        )
    )
    session.delete(group)
    session.flush()


# Ids per statement: far below SQLite's and PostgreSQL's bind-parameter limits (32,766 and
# 65,535), so replacing the members of a very large group still runs.
CHUNK = 5000


def _chunks(ids: Sequence[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    items = list(ids)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _insert(session: Session) -> Any:
    """The dialect's INSERT, the one with ON CONFLICT DO NOTHING."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _add_one(insert: Any) -> Insert:
    """``add_members`` for one user, on the tables (a statement on the entity takes the
    ORM's bulk path), built once per dialect."""
    memberships = cast(Table, GroupMembership.__table__)
    users = cast(Table, User.__table__)
    return cast(
        Insert,
        insert(memberships)
        .from_select(
            ["group_id", "user_id", "tenant_id", "created_at", "expires_at"],
            select(
                bindparam("to_group", type_=memberships.c.group_id.type),
                users.c.id,
                bindparam("of_tenant", type_=memberships.c.tenant_id.type),
                bindparam("added_at", type_=memberships.c.created_at.type),
                bindparam("until", type_=memberships.c.expires_at.type),
            ).where(
                users.c.tenant_id == bindparam("of_tenant"), users.c.id == bindparam("new_member")
            ),
        )
        .on_conflict_do_nothing()
        .returning(memberships.c.user_id),
    )


_ADD_ONE = {"postgresql": _add_one(postgresql.insert), "sqlite": _add_one(sqlite.insert)}


def add_members(
    session: Session,
    tenant_id: uuid.UUID,
    group_id: uuid.UUID,
    user_ids: Sequence[uuid.UUID],
    *,
    at: datetime | None = None,
    expires_at: datetime | None = None,
) -> list[uuid.UUID]:
    """Make the users of the tenant among ``user_ids`` members of the group, until
    ``expires_at`` if given, and return the ones that were not members before (those
    already members stay as they are, their expiry too).

    One INSERT ... SELECT ... ON CONFLICT DO NOTHING per chunk of ids: its cost follows the
    users added, not the size of the group. Ids of no user of the tenant are skipped.
    """
    created_at = at or utcnow()
    if len(user_ids) == 1:
        params = {
            "to_group": group_id,
            "of_tenant": tenant_id,
            "added_at": created_at,
            "until": expires_at,
        }
        return list(
            session.scalars(_ADD_ONE[_dialect(session)], {**params, "new_member": user_ids[0]})
        )
    added: list[uuid.UUID] = []
    for chunk in _chunks(user_ids):
        stmt: Insert = (
            _insert(session)(GroupMembership)
            .from_select(
                ["group_id", "user_id", "tenant_id", "created_at", "expires_at"],
                select(
                    literal(group_id, GroupMembership.group_id.type),
                    User.id,
                    literal(tenant_id, GroupMembership.tenant_id.type),
                    literal(created_at, GroupMembership.created_at.type),
                    literal(expires_at, GroupMembership.expires_at.type),
                ).where(User.tenant_id == tenant_id, User.id.in_(chunk)),
            )
            .on_conflict_do_nothing()
            .returning(GroupMembership.user_id)
        )
        added += session.scalars(stmt)
    return added


def remove_members(
    session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Remove those of ``user_ids`` that are members; return the ones removed."""
    removed: list[uuid.UUID] = []
    for chunk in _chunks(user_ids):
        removed += session.scalars(
            delete(GroupMembership)
            .where(
                GroupMembership.tenant_id == tenant_id,
                GroupMembership.group_id == group_id,
                GroupMembership.user_id.in_(chunk),
            )
            .returning(GroupMembership.user_id)
        )
    return removed


def remove_all_members(
    session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID
) -> list[uuid.UUID]:
    """Empty the group; return who was in it."""
    return list(
        session.scalars(
            delete(GroupMembership)
            .where(GroupMembership.tenant_id == tenant_id, GroupMembership.group_id == group_id)
            .returning(GroupMembership.user_id)
        )
    )


def touch(session: Session, tenant_id: uuid.UUID, group_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """A new version and modified_at for groups whose members changed (members are part of
    a group, so its ETag moves with them); the ids of the tenant's groups among them. No
    version check: concurrent membership changes queue on the row rather than fail as stale.
    The UPDATE locks the rows as ``lock`` does; several groups are locked in id order
    first, so two writers touching overlapping sets cannot deadlock."""
    if not group_ids:
        return set()
    if len(set(group_ids)) > 1:
        _lock_ids(
            session,
            select(Group.id).where(Group.tenant_id == tenant_id, Group.id.in_(list(group_ids))),
        )
    touched = session.execute(
        _TOUCH, {"of_tenant": tenant_id, "group_ids": list(group_ids), "now": utcnow()}
    )
    # The entities of these groups the session holds get the new version too (their ETag).
    found = set()
    for group_id, version, modified_at in touched:
        found.add(group_id)
        group = session.identity_map.get(identity_key(Group, group_id))
        if group is not None:
            set_committed_value(group, "version", version)
            set_committed_value(group, "modified_at", modified_at)
    return found


# ``touch``'s UPDATE, on the table (the ORM's bulk UPDATE machinery cost more than the
# statement), built once.
_GROUPS = cast(Table, Group.__table__)
_TOUCH = (
    update(_GROUPS)
    .where(
        _GROUPS.c.tenant_id == bindparam("of_tenant"),
        _GROUPS.c.id.in_(bindparam("group_ids", expanding=True)),
    )
    .values(version=_GROUPS.c.version + 1, modified_at=bindparam("now"))
    .returning(_GROUPS.c.id, _GROUPS.c.version, _GROUPS.c.modified_at)
)


def remove_all_memberships_of(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    session.execute(
        delete(GroupMembership).where(
            GroupMembership.tenant_id == tenant_id, GroupMembership.user_id == user_id
        )
    )


def members(
    session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[tuple[User, datetime | None]], int]:
    """A page of the group's members, each with its membership's expiry, and how many."""
    joined = (
        select(User)
        .join(GroupMembership, GroupMembership.user_id == User.id)
        .where(GroupMembership.tenant_id == tenant_id, GroupMembership.group_id == group_id)
    )
    total = count(session, joined)
    rows = session.execute(
        joined.add_columns(GroupMembership.expires_at)
        .options(joinedload(User.role), joinedload(User.team))
        # By name as user lists are, people without one last on both databases.
        .order_by(*SORT_NAME)
        .offset(offset)
        .limit(limit)
    )
    return [(user, expires_at) for user, expires_at in rows.unique()], total


def due_memberships(
    session: Session, now: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(tenant, group, user) of memberships whose expiry has come, across tenants, soonest
    first: a range of ix_group_memberships_expires_at. Not locked: the scheduler locks their
    groups (``lock_any``) and ``remove_due_memberships`` decides."""
    rows = session.execute(
        select(GroupMembership.tenant_id, GroupMembership.group_id, GroupMembership.user_id)
        .where(GroupMembership.expires_at <= now)
        .order_by(GroupMembership.expires_at)
        .limit(limit)
    )
    return [(t, g, u) for t, g, u in rows]


def lock_any(session: Session, group_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Lock those of the groups (of any tenant) no other transaction holds, in id order,
    without waiting for the others (PostgreSQL; SQLite's one writer holds them all): the
    ids locked. For the scheduler, which works across tenants and leaves a busy group to its
    next run."""
    if not group_ids:
        return []
    stmt = select(Group.id).where(Group.id.in_(list(group_ids))).order_by(Group.id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update(key_share=True, skip_locked=True)
    return list(session.scalars(stmt))


def remove_due_memberships(
    session: Session, memberships: Sequence[tuple[uuid.UUID, uuid.UUID]], now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime]]:
    """Delete those of the (group, user) memberships whose expiry has come: (tenant, group,
    user, expiry) of each deleted. One whose expiry is gone or moved ahead, or that is gone
    itself, stays as it is and is not returned."""
    removed: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime]] = []
    for start in range(0, len(memberships), CHUNK):
        chunk = memberships[start : start + CHUNK]
        pairs = [
            and_(GroupMembership.group_id == g, GroupMembership.user_id == u) for g, u in chunk
        ]
        rows = session.execute(
            delete(GroupMembership)
            .where(or_(*pairs), GroupMembership.expires_at <= now)
            .returning(
                GroupMembership.tenant_id,
                GroupMembership.group_id,
                GroupMembership.user_id,
                GroupMembership.expires_at,
            )
        )
        removed += [(t, g, u, e) for t, g, u, e in rows if e is not None]
    return removed


def groups_of(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[Group]:
    return list(
        session.scalars(
            select(Group)
            .join(GroupMembership, GroupMembership.group_id == Group.id)
            .where(GroupMembership.tenant_id == tenant_id, GroupMembership.user_id == user_id)
            .order_by(func.lower(Group.name), Group.id)
        )
    )


def members_of_many(
    session: Session, tenant_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """(user id, username) of the members of each group, in one query."""
    result: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return result
    rows = session.execute(
        select(GroupMembership.group_id, User.id, User.username)
        .join(User, User.id == GroupMembership.user_id)
        .where(GroupMembership.tenant_id == tenant_id, GroupMembership.group_id.in_(group_ids))
        .order_by(GroupMembership.group_id, User.username_key, User.id)
    )
    for gid, uid, username in rows:
        result[gid].append((uid, username))
    return result


_GROUPS_OF_ONE = Prepared(
    select(Group.id, Group.name)
    .join(GroupMembership, Group.id == GroupMembership.group_id)
    .where(
        GroupMembership.tenant_id == bindparam("tenant_id"),
        GroupMembership.user_id == bindparam("user_id"),
    )
    .order_by(Group.name)
)


async def groups_of_one(
    db: PointReader, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """``groups_of_many`` of one user, as a point read."""
    rows = await _GROUPS_OF_ONE.all(db, {"tenant_id": tenant_id, "user_id": user_id})
    return [(gid, name) for gid, name in rows]


def groups_of_many(
    session: Session, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """(group id, name) of the groups of each user, in one query."""
    result: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    if len(user_ids) == 1:
        # One user (a SCIM GET, an equality filter): a statement prepared once, where
        # building this one per request cost more than running it.
        (uid,) = user_ids
        params = {"tenant_id": tenant_id, "user_id": uid}
        result[uid] = [
            (gid, name) for gid, name in _GROUPS_OF_ONE.all_in(session.connection(), params)
        ]
        return result
    many = session.execute(
        select(GroupMembership.user_id, Group.id, Group.name)
        .join(Group, Group.id == GroupMembership.group_id)
        .where(GroupMembership.tenant_id == tenant_id, GroupMembership.user_id.in_(user_ids))
        .order_by(GroupMembership.user_id, Group.name)
    )
    for uid, gid, name in many:
        result[uid].append((gid, name))
    return result


def member_ids(session: Session, tenant_id: uuid.UUID, group_id: uuid.UUID) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(GroupMembership.user_id).where(
                GroupMembership.tenant_id == tenant_id, GroupMembership.group_id == group_id
            )
        )
    )


def existing_user_ids(
    session: Session, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``user_ids`` that are users of the tenant (one query per chunk of ids)."""
    found: set[uuid.UUID] = set()
    for chunk in _chunks(user_ids):
        found.update(
            session.scalars(select(User.id).where(User.tenant_id == tenant_id, User.id.in_(chunk)))
        )
    return found


def chunk_by_name(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    after: tuple[str, uuid.UUID] | None,
    offset: int,
    size: int,
) -> list[Group]:
    """Up to ``size`` of the tenant's groups in the order of the group lists (case-insensitive
    name, then id): past ``offset`` groups, or after the (name, id) of the last group of the
    previous chunk. The name is lower-cased by the database on both sides of the comparison,
    so the keyset agrees with the ORDER BY whatever the backend's idea of lower case is."""
    stmt = select(Group).where(Group.tenant_id == tenant_id)
    if after is not None:
        name, last_id = after
        key, last = func.lower(Group.name), func.lower(name)
        stmt = stmt.where(or_(key > last, and_(key == last, Group.id > last_id)))
    stmt = stmt.order_by(func.lower(Group.name), Group.id).offset(offset).limit(size)
    return list(session.scalars(stmt))
