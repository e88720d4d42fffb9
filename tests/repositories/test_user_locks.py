"""users.get_for_update: the locked user is the entity the ORM's load makes, role and team
included, whether the session held it before or not."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm.attributes import set_committed_value

from rosterd.models import User
from rosterd.repositories import users as users_repo
from rosterd.runtime import Runtime
from tests.repositories.test_users import tenant_id

__all__ = ["tenant_id"]  # the fixture: a tenant of five users, some with a role and a team

_COLUMNS = [a.key for a in inspect(User).column_attrs]


def _user_ids(runtime: Runtime, tenant: uuid.UUID) -> list[uuid.UUID]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(User.id).where(User.tenant_id == tenant)))


def _seen(user: User) -> dict[str, object]:
    seen = {key: getattr(user, key) for key in _COLUMNS}
    for ref in ("role", "team"):
        held = getattr(user, ref)
        seen[ref] = None if held is None else (held.id, held.name, held.tenant_id)
    return seen


def test_a_locked_user_is_the_user_a_load_makes(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    ids = _user_ids(runtime, tenant_id)
    assert len(ids) == 5
    with runtime.db.reader() as session:
        loaded = {i: _seen(users_repo.get(session, tenant_id, i)) for i in ids}  # type: ignore[arg-type]
    assert any(seen["role"] for seen in loaded.values())
    assert any(seen["team"] is None for seen in loaded.values())
    with runtime.db.writer.begin() as session:
        for user_id in ids:
            locked = users_repo.get_for_update(session, tenant_id, user_id)
            assert locked is not None
            assert _seen(locked) == loaded[user_id]
            assert inspect(locked).persistent and not session.dirty
        # A persistent entity like any other: a change to it is flushed as an UPDATE.
        locked.title = "Locked and changed"
    with runtime.db.reader() as session:
        assert session.get(User, ids[-1]).title == "Locked and changed"  # type: ignore[union-attr]


def test_only_the_tenants_own_user_is_locked(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    user_id = _user_ids(runtime, tenant_id)[0]
    with runtime.db.writer.begin() as session:
        assert users_repo.get_for_update(session, uuid.uuid4(), user_id) is None
        assert users_repo.get_for_update(session, tenant_id, uuid.uuid4()) is None
        assert users_repo.get_for_update(session, tenant_id, user_id) is not None


@pytest.mark.parametrize("held_first", ["user", "role"])
def test_what_the_session_held_is_read_again_or_kept(
    runtime: Runtime, tenant_id: uuid.UUID, held_first: str
) -> None:
    ids = _user_ids(runtime, tenant_id)
    with runtime.db.writer.begin() as session:
        users = [users_repo.get(session, tenant_id, i) for i in ids]
        user = next(u for u in users if u is not None and u.role is not None)
        role = user.role
        if held_first == "user":
            # What the session held may be stale: the lock reads it again.
            set_committed_value(user, "title", "stale")
            locked = users_repo.get_for_update(session, tenant_id, user.id)
            assert locked is user and user.title != "stale"
        else:
            # A user it did not hold, whose role it did: the one role entity serves both.
            session.expunge(user)
            locked = users_repo.get_for_update(session, tenant_id, user.id)
            assert locked is not None and locked is not user
            assert locked.role is role
