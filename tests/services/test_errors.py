"""Which store errors are conflicts: only unique violations, named by the domain field."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rosterd.models import Group
from rosterd.services.context import Actor
from rosterd.services.errors import conflict_of
from tests.factories import stored_user


def _refused(session: Session, *rows: object) -> IntegrityError:
    savepoint = session.begin_nested()
    session.add_all(rows)
    with pytest.raises(IntegrityError) as caught:
        session.flush()
    savepoint.rollback()
    return caught.value


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        ({"username": "Jane"}, {"username": "JANE"}, "username"),
        (
            {"username": "a", "email": "Jane@x.com"},
            {"username": "b", "email": "jane@X.com"},
            "email",
        ),
        (
            {"username": "a", "identity_key": "k"},
            {"username": "b", "identity_key": "k"},
            "identity_key",
        ),
    ],
)
def test_a_unique_violation_is_a_conflict_naming_the_field(
    session: Session, actor: Actor, first: dict[str, str], second: dict[str, str], field: str
) -> None:
    session.add(stored_user(tenant_id=actor.tenant_id, number=1, **first))
    session.flush()
    exc = _refused(session, stored_user(tenant_id=actor.tenant_id, number=2, **second))
    conflict = conflict_of(exc)
    assert conflict is not None
    assert [d.field for d in conflict.details] == [field]


def test_a_group_name_collision_is_a_conflict_on_its_name(session: Session, actor: Actor) -> None:
    session.add(Group(tenant_id=actor.tenant_id, name="Sales"))
    session.flush()
    conflict = conflict_of(_refused(session, Group(tenant_id=actor.tenant_id, name="sales")))
    assert conflict is not None
    assert [d.field for d in conflict.details] == ["name"]


def test_other_integrity_errors_are_not_conflicts(session: Session, actor: Actor) -> None:
    # A foreign key to nowhere and a missing NOT NULL value are bugs, not a client's mistake.
    dangling = stored_user(tenant_id=actor.tenant_id, number=1, username="x")
    dangling.role_id = uuid.uuid4()
    assert conflict_of(_refused(session, dangling)) is None
    assert conflict_of(_refused(session, Group(tenant_id=actor.tenant_id, name=None))) is None
