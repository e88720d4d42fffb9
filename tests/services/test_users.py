"""The users service: commands, rules, uniqueness and the statements a write costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from scim2_models import ScimFilter
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from rosterd.domain.commands import Contact, NewUser, UserPatch
from rosterd.models import AuditEvent, User
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories.users import UserQuery
from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Invalid, PreconditionFailed
from tests.factories import bare_tenant, stored_user


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL the session's connection runs meanwhile, as its driver cursors are given it:
    SQLAlchemy's executions and prepared statements (rosterd.db.prepared) alike."""
    seen: list[str] = []
    fairy = session.connection().connection
    cursor = fairy.cursor

    class Recording:
        def __init__(self, real: Any) -> None:
            self._real = real

        def execute(self, sql: str, *args: Any) -> Any:
            seen.append(sql)
            return self._real.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

    fairy.cursor = lambda *args, **kwargs: Recording(cursor(*args, **kwargs))  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del fairy.cursor  # type: ignore[method-assign]


@contextmanager
def refused(session: Session) -> Iterator[pytest.ExceptionInfo[Conflict]]:
    """A write expected to be refused as a Conflict, in a savepoint: a unique index refuses
    it, which ends the transaction unless a savepoint is rolled back instead (as SCIM Bulk
    does between its operations)."""
    with pytest.raises(Conflict) as caught, session.begin_nested():
        yield caught


def _fields(err: Exception) -> list[str]:
    return [d.field for d in getattr(err, "details", [])]


def test_a_patch_changes_what_it_sets_and_nothing_else(session: Session, actor: Actor) -> None:
    user = users_service.create_user(
        session, actor, NewUser(email="ada@example.com", first_name="Ada", title="Engineer")
    )
    users_service.update_user(session, actor, user.id, UserPatch(title=None, last_name="King"))
    assert (user.first_name, user.last_name, user.title) == ("Ada", "King", None)
    assert user.username == "ada@example.com"


def test_a_case_or_unicode_form_pair_is_one_user(session: Session, actor: Actor) -> None:
    users_service.create_user(session, actor, NewUser(email="ÄNNA@x.com", username="Zoë"))
    with refused(session) as caught:
        users_service.create_user(session, actor, NewUser(email="änna@X.com"))
    assert _fields(caught.value) == ["email"]
    with refused(session) as caught:
        users_service.create_user(session, actor, NewUser(username="ZOE\u0308", email="z@x.com"))
    assert _fields(caught.value) == ["username"]


def test_a_value_a_user_already_has_is_its_own(session: Session, actor: Actor) -> None:
    user = users_service.create_user(session, actor, NewUser(email="jane@example.com"))
    users_service.update_user(session, actor, user.id, UserPatch(email="JANE@example.com"))
    assert user.email == "JANE@example.com"


def test_addresses_may_be_shared_where_the_tenant_allows_it(session: Session, actor: Actor) -> None:
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    first = users_service.create_user(session, actor, NewUser(email="desk@corp.local"))
    with refused(session):
        users_service.create_user(session, actor, NewUser(email="desk@corp.local", username="b"))

    tenants_service.set_shared_emails(session, tenant, True)
    second = users_service.create_user(
        session, actor, NewUser(email="DESK@corp.local", username="b")
    )
    assert second.email_key == first.email_key
    with pytest.raises(Invalid) as caught:
        tenants_service.set_shared_emails(session, tenant, False)
    assert "desk@corp.local" in caught.value.message

    users_service.update_user(session, actor, second.id, UserPatch(email="b@corp.local"))
    tenants_service.set_shared_emails(session, tenant, False)
    with refused(session):
        users_service.create_user(session, actor, NewUser(email="b@corp.local", username="c"))


def test_every_email_is_kept_and_a_single_email_change_moves_the_primary(
    session: Session, actor: Actor
) -> None:
    emails = (
        Contact("home@example.com", "home"),
        Contact("Work@Example.com", "work", primary=True),
        Contact("old@example.com", "other"),
    )
    user = users_service.create_user(session, actor, NewUser(username="multi", emails=emails))
    assert user.email == "Work@example.com"
    assert user.emails == [c.as_json() for c in emails]

    users_service.update_user(session, actor, user.id, UserPatch(email="new@example.com"))
    assert [e["value"] for e in user.emails or []] == [
        "home@example.com",
        "new@example.com",
        "old@example.com",
    ]
    with pytest.raises(Invalid) as caught:
        users_service.update_user(
            session,
            actor,
            user.id,
            UserPatch(emails=(Contact("a@x.com", primary=True), Contact("b@x.com", primary=True))),
        )
    assert _fields(caught.value) == ["emails"]


def test_phones_are_shared_unless_the_surface_promises_unique_e164(
    session: Session, actor: Actor
) -> None:
    switchboard = "+1 (425) 555-0100"
    a = users_service.create_user(session, actor, NewUser(username="a", phone=switchboard))
    users_service.create_user(session, actor, NewUser(username="b", phone=switchboard))
    assert (a.phone, a.phone_e164) == (switchboard, "+14255550100")
    with pytest.raises(Invalid):
        users_service.create_user(
            session, actor, NewUser(username="c", phone=switchboard, phone_must_be_e164=True)
        )
    with pytest.raises(Conflict) as caught:
        users_service.create_user(
            session, actor, NewUser(username="d", phone="+14255550100", phone_must_be_e164=True)
        )
    assert _fields(caught.value) == ["phone"]


def test_a_stale_version_is_refused_under_the_lock(session: Session, actor: Actor) -> None:
    user = users_service.create_user(session, actor, NewUser(username="v"))
    users_service.update_user(session, actor, user.id, UserPatch(title="x"), expected_version=1)
    with pytest.raises(PreconditionFailed):
        users_service.update_user(session, actor, user.id, UserPatch(title="y"), expected_version=1)
    assert user.title == "x"


def test_a_refused_patch_changes_nothing(session: Session, actor: Actor) -> None:
    user = users_service.create_user(session, actor, NewUser(username="r", title="kept"))
    with pytest.raises(Invalid):
        users_service.update_user(
            session, actor, user.id, UserPatch(title="new", first_name="a\x00b")
        )
    assert user.title == "kept"


def test_a_one_attribute_patch_is_a_handful_of_statements(session: Session, actor: Actor) -> None:
    user = users_service.create_user(session, actor, NewUser(email="cost@example.com"))
    session.flush()
    with statements(session) as seen:
        users_service.update_user(session, actor, user.id, UserPatch(title="Engineer"))
        session.flush()
    # Lock and read the user, write it, write the audit row: nothing is read back.
    assert [s.split()[0] for s in seen] == ["SELECT", "UPDATE", "INSERT"], seen
    audited = session.scalar(
        select(func.count()).where(
            AuditEvent.resource_id == str(user.id), AuditEvent.action == "user.updated"
        )
    )
    assert audited == 1


def test_a_create_reads_nothing_before_its_insert_nor_after_it(
    session: Session, actor: Actor
) -> None:
    """The unique indexes answer for uniqueness, the number and the tenant's address rule
    come back from one UPDATE, and the user is not read back: no SELECT at all."""
    with statements(session) as seen:
        users_service.create_user(
            session, actor, NewUser(email="lean@example.com", first_name="Lean")
        )
        session.flush()
    assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")], seen
    assert [s.split()[0] for s in seen] == ["UPDATE", "INSERT", "INSERT"], seen


_HELD = NewUser(
    email="held@example.com",
    username="held",
    identity_key="key-held",
    external_identities=("idp|held",),
)
# A field held by _HELD, a create that reuses it, and the message that names it.
_TAKEN = [
    ("email", NewUser(email="HELD@example.com"), "a user with email 'HELD@example.com'"),
    ("username", NewUser(email="x@example.com", username="Held"), "a user with username 'Held'"),
    (
        "identity_key",
        NewUser(email="x@example.com", identity_key="key-held"),
        "a user with identity key 'key-held'",
    ),
    (
        "external_identities",
        NewUser(email="x@example.com", external_identities=("idp|held",)),
        "external identity 'idp|held' already belongs",
    ),
]


def _written(session: Session, actor: Actor) -> tuple[int, int, int]:
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    session.refresh(tenant)
    return (
        session.scalar(select(func.count()).where(User.tenant_id == actor.tenant_id)) or 0,
        session.scalar(select(func.count()).where(AuditEvent.tenant_id == actor.tenant_id)) or 0,
        tenant.last_user_number,
    )


@pytest.mark.parametrize(("field", "command", "message"), _TAKEN, ids=[t[0] for t in _TAKEN])
def test_a_create_of_a_held_value_is_a_conflict_naming_it_and_writes_nothing(
    session: Session, actor: Actor, field: str, command: NewUser, message: str
) -> None:
    users_service.create_user(session, actor, _HELD)
    before = _written(session, actor)
    with refused(session) as caught:
        users_service.create_user(session, actor, command)
    assert _fields(caught.value) == [field]
    assert caught.value.message.startswith(message), caught.value.message
    assert _written(session, actor) == before


@pytest.mark.parametrize(("field", "command", "message"), _TAKEN, ids=[t[0] for t in _TAKEN])
def test_a_change_to_a_held_value_is_a_conflict_naming_it_and_writes_nothing(
    session: Session, actor: Actor, field: str, command: NewUser, message: str
) -> None:
    users_service.create_user(session, actor, _HELD)
    other = users_service.create_user(session, actor, NewUser(email="other@example.com"))
    before = _written(session, actor)
    patch = UserPatch(
        **{
            name: getattr(command, name)
            for name in ("email", "username", "identity_key", "external_identities")
            if name == field
        }
    )
    with refused(session) as caught:
        users_service.update_user(session, actor, other.id, patch)
    assert _fields(caught.value) == [field]
    assert caught.value.message.startswith(message), caught.value.message
    assert _written(session, actor) == before
    session.refresh(other)
    assert other.email == "other@example.com"


def test_an_unchanged_patch_writes_nothing(session: Session, actor: Actor) -> None:
    user = users_service.create_user(session, actor, NewUser(email="same@example.com"))
    session.flush()
    with statements(session) as seen:
        users_service.update_user(session, actor, user.id, UserPatch(email="same@example.com"))
        session.flush()
    assert [s for s in seen if not s.lstrip().upper().startswith("SELECT")] == []
    assert session.get(User, user.id) is user


def test_a_change_to_a_secondary_address_is_audited(session: Session, actor: Actor) -> None:
    user = users_service.create_user(
        session,
        actor,
        NewUser(username="two", emails=(Contact("a@x.com", primary=True), Contact("b@x.com"))),
    )
    users_service.update_user(
        session,
        actor,
        user.id,
        UserPatch(emails=(Contact("a@x.com", primary=True), Contact("c@x.com"))),
    )
    session.flush()
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_id == str(user.id), AuditEvent.action == "user.updated"
        )
    ).one()
    assert event.before is not None and event.after is not None
    assert [e["value"] for e in event.after["emails"]] == ["a@x.com", "c@x.com"]
    assert user.version == 2


def test_an_address_is_found_through_the_unique_index(runtime: Runtime, backend: str) -> None:
    """Every way of looking a user up by address (v2's ``email=``, SCIM's ``emails``
    filters) reads uq_users_tenant_email_key, never a walk of
    the tenant in creation order, which SQLite's planner prefers for ``ORDER BY created_at``
    when nothing else says the address is unique."""
    if backend != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL finds the row either way")
    tenant_id = bare_tenant(runtime)
    actor = Actor(tenant_id=tenant_id, actor="test", surface="test")
    with runtime.db.writer.begin() as session:
        session.add_all(
            stored_user(tenant_id=tenant_id, number=n, username=f"u{n}", email=f"u{n}@x.com")
            for n in range(1, 50)
        )
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM users" in statement and "email_key" in statement:
            seen.append((statement, parameters))

    engines = {runtime.db.engine, runtime.db.write_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", grab)
    try:
        with runtime.db.reader() as session:
            users_service.list_users(session, actor, UserQuery(email="u7@X.com"))
            for tree in (
                'emails.value eq "u7@x.com"',
                'emails[type eq "work"].value eq "U7@x.com"',
            ):
                users_service.search_by_filter(
                    session,
                    actor,
                    ScimFilter(tree).ast,
                    sort_by=None,
                    descending=False,
                    offset=0,
                    limit=100,
                )
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", grab)
    assert len(seen) == 3, seen
    with runtime.db.reader() as session:
        for sql, params in seen:
            rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = "\n".join(str(row[3]) for row in rows)
            assert "USING INDEX uq_users_tenant_email_key" in plan, (sql, plan)


def test_a_filter_without_addresses_reads_no_tenant_setting(session: Session, actor: Actor) -> None:
    """Whether the tenant shares addresses is asked only of filters that compare them."""
    users_service.create_user(session, actor, NewUser(username="solo"))
    session.flush()
    session.expunge_all()
    with statements(session) as seen:
        users, _ = users_service.search_by_filter(
            session,
            actor,
            ScimFilter('userName eq "SOLO"').ast,
            sort_by=None,
            descending=False,
            offset=0,
            limit=10,
        )
    assert [u.username for u in users] == ["solo"]
    assert not any("FROM tenants" in s for s in seen), seen
    with statements(session) as seen:
        users_service.search_by_filter(
            session,
            actor,
            ScimFilter('emails.value eq "x@y.com"').ast,
            sort_by=None,
            descending=False,
            offset=0,
            limit=10,
        )
    assert any("FROM tenants" in s for s in seen), seen


def test_an_address_that_is_also_the_username_conflicts_as_the_address(
    session: Session, actor: Actor
) -> None:
    """Both unique indexes refuse a second user whose username defaults to a held address;
    whichever the database checks first, the conflict names the address."""
    users_service.create_user(session, actor, NewUser(email="both@example.com"))
    with refused(session) as caught:
        users_service.create_user(session, actor, NewUser(email="Both@example.com"))
    assert _fields(caught.value) == ["email"]
    assert caught.value.message == "a user with email 'Both@example.com' already exists"
