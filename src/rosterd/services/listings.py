"""Whole lists of users and groups, read a chunk at a time in a stable order.

The unbounded lists of /api/v1 come from here: every chunk is a bounded number of rows and
bind parameters (PostgreSQL refuses more than 65,535 in one statement), and the caller passes
the last item's key back to get the next chunk.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.models import Group, User
from rosterd.repositories import group_chunks
from rosterd.repositories import users as users_repo
from rosterd.repositories.users import UserQuery
from rosterd.services.context import Actor

UserKey = tuple[datetime, uuid.UUID]
GroupKey = tuple[str, uuid.UUID]


def users_chunk(
    session: Session,
    actor: Actor,
    q: UserQuery,
    *,
    after: UserKey | None,
    offset: int,
    size: int,
) -> tuple[list[User], UserKey | None]:
    """Users matching ``q``'s filters in creation order, and the key to pass as ``after`` for
    the ones that follow (None when there were none)."""
    users = users_repo.chunk_in_creation_order(
        session, actor.tenant_id, q, after=after, offset=offset, size=size
    )
    return users, ((users[-1].created_at, users[-1].id) if users else None)


def groups_chunk(
    session: Session, actor: Actor, *, after: GroupKey | None, offset: int, size: int
) -> tuple[list[Group], GroupKey | None]:
    """Groups by name, and the key to pass as ``after`` for the ones that follow."""
    groups = group_chunks.chunk_by_name(
        session, actor.tenant_id, after=after, offset=offset, size=size
    )
    return groups, ((groups[-1].name, groups[-1].id) if groups else None)
