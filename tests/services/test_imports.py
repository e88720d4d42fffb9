"""`rosterd import`'s service: what a batch stores (rows, audit events, tallies, the search
index), and that a failed batch leaves the store as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import Session

from rosterd.db.engine import make_database
from rosterd.db.migrate import upgrade
from rosterd.models import AuditEvent, Group, GroupMembership, Team, User, UserStatus
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import import_journal, user_search, user_tallies
from rosterd.repositories.user_search import FULL_NAME, ID_HEX
from rosterd.services import imports as imports_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Invalid
from tests.backends import postgres_url

_LINES = [
    {"type": "group", "name": "Sales"},
    {"type": "group", "name": "EMEA", "parent": "sales", "description": "Europe"},
    {"type": "team", "name": "AEs"},
    {
        "type": "user",
        "username": "Jane.Doe",
        "email": "Jane.Doe+crm@Corp.EXAMPLE",
        "first_name": "Jane",
        "last_name": "Doe",
        "phone": "+14255550100",
        "title": "AE",
        "team": "aes",
        "groups": ["Sales", "emea", "SALES"],
        "external_id": "00u1",
        "last_login_at": "2026-01-31T09:00:00Z",
    },
    {
        "type": "user",
        "email": "zoë@bücher.example",
        "first_name": "Zoë",
        "phone": "(425) 555-0101",
        "status": "suspended",
    },
    {"type": "user", "username": "kim", "phone": "0044 20 7183 8750", "locale": "en-GB"},
]


def _parsed(lines: list[dict[str, Any]], first: int = 1) -> list[tuple[int, Any]]:
    return [(n, imports_service.parse(n, json.dumps(line))) for n, line in enumerate(lines, first)]


def _import(session: Session, actor: Actor, lines: list[dict[str, Any]]) -> Any:
    names = imports_service.Names.load(session, actor.tenant_id)
    return imports_service.import_batch(session, actor, names, _parsed(lines))


def _other_actor(session: Session) -> Actor:
    tenant = tenants_service.create_tenant(session, f"t-{secrets.token_hex(5)}")
    return Actor(tenant_id=tenant.id, actor="test", surface="test")


def _stored(session: Session, table: str, actor: Actor, skip: set[str]) -> list[dict[str, Any]]:
    """The rows of ``table`` for a tenant as the database holds them (no type processing)."""
    tenant = bindparam("t", actor.tenant_id, type_=User.__table__.c.tenant_id.type)
    rows = session.execute(
        text(f"SELECT * FROM {table} WHERE tenant_id = :t").bindparams(tenant)  # noqa: S608
    ).mappings()
    return sorted(({k: v for k, v in row.items() if k not in skip} for row in rows), key=repr)


def _user_row(actor: Actor, number: int, **values: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": actor.tenant_id,
        "number": number,
        "username": f"user{number}",
        "username_key": f"user{number}",
        "email": f"User{number}@example.com",
        "email_key": f"user{number}@example.com",
        "email_unique": True,
        "first_name": "Zoë",
        "first_name_key": "zoë",
        "last_name": None,
        "phone": "+14255550100",
        "phone_e164": "+14255550100",
        "status": UserStatus.suspended,
        "role_id": None,
        "last_login_at": datetime(2026, 1, 31, 9, 0, tzinfo=UTC),
        "created_at": datetime(2026, 2, 1, 10, 30, 15, 123456, tzinfo=UTC),
        "modified_at": datetime(2026, 2, 1, 10, 30, 15, 123456, tzinfo=UTC),
        **values,
    }


def test_bulk_writes_store_rows_as_a_core_insert_stores_them(session: Session) -> None:
    core, bulk = _other_actor(session), _other_actor(session)
    variants: list[dict[str, Any]] = [
        {},
        {"email": None, "email_key": None, "phone": None, "phone_e164": None},
        {"email_unique": False, "status": UserStatus.active, "last_login_at": None},
    ]
    for actor, write in (
        (core, lambda rows: session.execute(insert(User.__table__), rows)),
        (bulk, lambda rows: bulk_repo.insert_users(session, rows)),
    ):
        rows = [_user_row(actor, n, **v) for n, v in enumerate(variants, 1)]
        write(rows)
        audit = [
            {
                "tenant_id": actor.tenant_id,
                "occurred_at": rows[0]["created_at"],
                "actor": "cli",
                "surface": "cli",
                "action": "user.created",
                "resource_type": "user",
                "resource_id": "x",
                "before": None,
                "after": {"name": "Zoë", "imported": True},
                "request_id": None,
            }
        ]
        if actor is core:
            session.execute(insert(AuditEvent.__table__), audit)
        else:
            bulk_repo.insert_audit(session, audit)
    skip = {"id", "tenant_id"}
    assert _stored(session, "users", bulk, skip) == _stored(session, "users", core, skip)
    assert _stored(session, "audit_events", bulk, skip) == _stored(
        session, "audit_events", core, skip
    )
    assert len(_stored(session, "users", bulk, skip)) == len(variants)


def test_a_batch_stores_users_groups_audit_events_and_tallies(
    session: Session, actor: Actor
) -> None:
    done = _import(session, actor, _LINES)
    assert (done.groups, done.teams, done.users, done.memberships) == (2, 1, 3, 2)
    users = {
        u.username: u
        for u in session.scalars(select(User).where(User.tenant_id == actor.tenant_id))
    }
    assert set(users) == {"Jane.Doe", "zoë@bücher.example", "kim"}
    jane = users["Jane.Doe"]
    assert (jane.email, jane.email_key) == (
        "Jane.Doe+crm@corp.example",
        "jane.doe+crm@corp.example",
    )
    assert session.scalar(select(Team.name).where(Team.id == jane.team_id)) == "AEs"
    groups = select(Group.name).join(GroupMembership, GroupMembership.group_id == Group.id)
    assert set(session.scalars(groups.where(GroupMembership.user_id == jane.id))) == {
        "Sales",
        "EMEA",
    }
    assert (users["kim"].phone, users["kim"].phone_e164) == ("0044 20 7183 8750", "+442071838750")
    assert users["zoë@bücher.example"].phone_e164 is None
    assert sorted(u.number for u in users.values()) == [1, 2, 3]
    actions = session.execute(
        select(AuditEvent.action, AuditEvent.after).where(AuditEvent.tenant_id == actor.tenant_id)
    ).all()
    assert sorted(a for a, _ in actions) == [
        "group.created",
        "group.created",
        "team.created",
        "user.created",
        "user.created",
        "user.created",
    ]
    assert {"name": "kim", "imported": True} in [after for _, after in actions]
    if session.get_bind().dialect.name == "postgresql":
        # COPY fills tx from its default as an INSERT does: imports reach the event feed.
        txs = session.scalars(select(AuditEvent.tx).where(AuditEvent.tenant_id == actor.tenant_id))
        assert set(txs) == {session.scalar(text("SELECT txid_current()"))}
    assert user_tallies.total(session, actor.tenant_id, [UserStatus.active]) == 2
    assert user_tallies.total(session, actor.tenant_id, [UserStatus.suspended]) == 1


def _found(session: Session, actor: Actor, needle: str, column: Any = User.username) -> set[str]:
    """Usernames of the tenant's users whose ``column`` contains ``needle``, searched as every
    surface searches (through users_fts on SQLite, the trigram indexes on PostgreSQL)."""
    stmt = select(User.username).where(User.tenant_id == actor.tenant_id)
    stmt = user_search.where(stmt, user_search.matches(([column], needle)))
    return set(session.scalars(stmt))


def test_imported_users_are_found_by_partial_search_in_their_tenant_only(
    session: Session, actor: Actor
) -> None:
    other = _other_actor(session)
    _import(session, other, [{"type": "user", "username": "jane.other", "first_name": "Jane"}])
    _import(session, actor, _LINES)
    jane = session.scalars(select(User).where(User.username == "Jane.Doe")).one()
    assert _found(session, actor, "e.do") == {"Jane.Doe"}
    assert _found(session, actor, "crm@corp", User.email) == {"Jane.Doe"}
    assert _found(session, actor, "zo", User.first_name) == {"zoë@bücher.example"}
    assert _found(session, actor, "doe", User.last_name) == {"Jane.Doe"}
    assert _found(session, actor, "jane doe", FULL_NAME) == {"Jane.Doe"}
    assert _found(session, actor, "5550100", User.phone) == {"Jane.Doe"}
    assert _found(session, actor, jane.id.hex[4:14], ID_HEX) == {"Jane.Doe"}
    assert _found(session, actor, "bücher", User.email) == {"zoë@bücher.example"}
    # The other tenant's user, imported before, is still found there and only there.
    assert _found(session, other, "jane", User.first_name) == {"jane.other"}


def test_a_failed_batch_leaves_the_store_and_its_search_as_they_were(
    session: Session, actor: Actor
) -> None:
    _import(session, actor, _LINES)
    before = _stored(session, "users", actor, set())
    clash = [
        {"type": "user", "username": "ann", "email": "ann@corp.example"},
        {"type": "user", "username": "bob", "email": "ANN@corp.example"},
    ]
    names = imports_service.Names.load(session, actor.tenant_id)
    with pytest.raises(Conflict) as refused, session.begin_nested():
        imports_service.import_batch(session, actor, names, _parsed(clash, first=7))
    assert refused.value.message == (
        "lines 7-8: email already taken (in the store or in this batch)"
    )
    assert _stored(session, "users", actor, set()) == before
    assert user_tallies.total(session, actor.tenant_id, list(UserStatus)) == 3
    # Search still answers, and users created afterwards, any way, are indexed.
    assert _found(session, actor, "e.do") == {"Jane.Doe"}
    _import(session, actor, [{"type": "user", "username": "ann", "email": "ann@corp.example"}])
    assert _found(session, actor, "ann@", User.email) == {"ann"}
    session.execute(insert(User.__table__), [_user_row(actor, 99, username="written.by.core")])
    assert _found(session, actor, "by.core") == {"written.by.core"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            {"type": "user", "username": "x", "email": "not-an-address"},
            "line 3: email: An email address must have an @-sign.",
        ),
        (
            {"type": "user", "username": "x", "email": "x@ab--cd.example"},
            "line 3: email: An email address cannot have two letters followed by two dashes"
            " immediately after the @-sign or after a period, except Punycode.",
        ),
        ({"type": "user", "email": None}, "line 3: username: a username or an email is required"),
        ({"type": "user", "username": "x", "team": "nope"}, "line 3: team 'nope' not found"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(
    session: Session, actor: Actor, line: dict[str, Any], message: str
) -> None:
    names = imports_service.Names.load(session, actor.tenant_id)
    lines = [{"type": "user", "username": "fine1"}, {"type": "user", "username": "fine2"}, line]
    with pytest.raises(Invalid) as refused:
        imports_service.import_batch(session, actor, names, _parsed(lines))
    assert refused.value.message == message


def test_a_load_keeps_postgresql_statistics_up_with_what_it_wrote() -> None:
    """A batch writing more users than the planner's count of the table ANALYZEs it (the
    foreign-key checks of the batch's memberships are planned from that count, see
    repositories.bulk._keep_statistics); a batch within the count does not."""

    def counted(session: Session) -> float:
        return float(
            session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('users')"))
        )

    with postgres_url() as url:
        db = make_database(url, pool_size=2)
        try:
            upgrade(db.write_engine)
            with db.writer.begin() as session:
                tenant = tenants_service.create_tenant(session, "load")
                actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
            assert counted(db.writer()) < 0  # never analyzed
            lines = [{"type": "group", "name": "g"}] + [
                {"type": "user", "username": f"u{n}", "groups": ["g"]} for n in range(30)
            ]
            with db.writer.begin() as session:
                assert _import(session, actor, lines).memberships == 30
                assert counted(session) == 30
            with db.writer.begin() as session:
                _import(session, actor, [{"type": "user", "username": f"v{n}"} for n in range(20)])
                assert counted(session) == 30
        finally:
            db.dispose()


def test_a_batch_and_its_journal_entry_are_stored_together_or_not_at_all(
    session: Session, actor: Actor
) -> None:
    names = imports_service.Names.load(session, actor.tenant_id)
    checked = [imports_service.check(n, r) for n, r in _parsed(_LINES)]
    entry = imports_service.JournalEntry("f" * 64, 1, 6)
    kim_again = imports_service.parse(7, '{"type": "user", "username": "KIM"}')
    clash = [*checked, imports_service.check(7, kim_again)]
    with pytest.raises(Conflict), session.begin_nested():
        imports_service.write_batch(session, actor, names, clash, entry)
    assert import_journal.last_line(session, actor.tenant_id, "f" * 64) == 0
    assert _stored(session, "users", actor, set()) == []

    names = imports_service.Names.load(session, actor.tenant_id)
    done = imports_service.write_batch(session, actor, names, checked, entry)
    assert import_journal.last_line(session, actor.tenant_id, "f" * 64) == 6
    (batch,) = import_journal.batches(session, actor.tenant_id, "f" * 64)
    assert (batch.first_line, batch.last_line) == (1, 6)
    assert imports_service.ImportResult.of_counts(batch.counts) == done
    # The journal is the tenant's: another tenant's import of the same file starts afresh.
    assert import_journal.last_line(session, _other_actor(session).tenant_id, "f" * 64) == 0


def test_a_batch_reuses_the_groups_teams_and_users_the_tenant_has(
    session: Session, actor: Actor
) -> None:
    _import(session, actor, _LINES)
    again = _import(
        session,
        actor,
        [
            {"type": "group", "name": "SALES", "description": "ignored"},
            {"type": "team", "name": "aes"},
            {"type": "user", "username": "jane.doe", "groups": ["emea"]},
            {"type": "user", "username": "new", "groups": ["emea"], "team": "AEs"},
        ],
    )
    assert (again.groups, again.teams, again.users, again.memberships) == (0, 0, 1, 1)
    assert (again.existing_groups, again.existing_teams, again.existing_users) == (1, 1, 1)
    assert (
        session.scalar(
            select(Group.description).where(
                Group.tenant_id == actor.tenant_id, Group.name == "Sales"
            )
        )
        is None
    )
