"""Idle sweeps in the domain layer: where the cutoff and the guard fall, and the index the
plan is found through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from rosterd.models import UserStatus
from rosterd.runtime import Runtime
from rosterd.services import idle_sweeps
from rosterd.services.context import Actor
from tests.factories import bare_tenant, stored_user

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)


def _users(session: Session, actor: Actor, *rows: dict[str, Any]) -> list[Any]:
    users = [
        stored_user(
            tenant_id=actor.tenant_id,
            number=n,
            username=f"u{n}",
            **{"created_at": NOW - timedelta(days=365), **row},
        )
        for n, row in enumerate(rows, start=1)
    ]
    session.add_all(users)
    session.flush()
    return [u.id for u in users]


def test_the_cutoff_is_exclusive(session: Session, actor: Actor) -> None:
    before, at, after = _users(
        session,
        actor,
        {"last_login_at": CUTOFF - timedelta(microseconds=1)},
        {"last_login_at": CUTOFF},
        {"last_login_at": CUTOFF + timedelta(seconds=1)},
    )
    sweep = idle_sweeps.plan(session, actor, idle_sweeps.SweepRequest(inactive_days=90), now=NOW)
    _, rows = idle_sweeps.users_page(session, actor, sweep.id, None, 10)
    assert [row.user_id for row, _, _ in rows] == [before]
    assert {at, after}.isdisjoint(row.user_id for row, _, _ in rows)


@pytest.mark.parametrize(("idle", "held"), [(1, False), (2, True)])
def test_the_guard_holds_more_than_its_share(
    session: Session, actor: Actor, idle: int, held: bool
) -> None:
    # 10 active users and the default guard of 10%: one idle user is 10%, not more.
    recent = {"last_login_at": NOW - timedelta(days=1)}
    stale = {"last_login_at": NOW - timedelta(days=100)}
    _users(session, actor, *([stale] * idle + [recent] * (10 - idle)))
    session.add(
        stored_user(
            tenant_id=actor.tenant_id,
            number=99,
            username="inactive",
            status=UserStatus.inactive,
            **stale,
        )
    )
    session.flush()

    sweep = idle_sweeps.plan(session, actor, idle_sweeps.SweepRequest(inactive_days=90), now=NOW)

    assert (sweep.user_count, sweep.active_users) == (idle, 10)
    assert sweep.held is held
    assert sweep.state == ("held" if held else "planned")


def test_a_plan_reads_the_sweep_index(runtime: Runtime, backend: str) -> None:
    """Both searches of a plan (signed in before the cutoff; never signed in, created before
    it) are ranges of ix_users_tenant_status_last_login_created, not walks of the tenant."""
    if backend != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL's depends on its statistics")
    tenant_id = bare_tenant(runtime)
    actor = Actor(tenant_id=tenant_id, actor="test", surface="test")
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("INSERT INTO idle_sweep_users"):
            seen.append((statement, parameters))

    event.listen(runtime.db.write_engine, "before_cursor_execute", grab)
    try:
        with runtime.db.writer.begin() as session:
            idle_sweeps.plan(session, actor, idle_sweeps.SweepRequest(inactive_days=90))
    finally:
        event.remove(runtime.db.write_engine, "before_cursor_execute", grab)
    assert len(seen) == 2, seen
    with runtime.db.reader() as session:
        sqlite = session.connection().connection.driver_connection
        for statement, parameters in seen:
            # The INSERT's column list has no parameters: they are all the SELECT's.
            select_part = statement[statement.index("SELECT") :]
            plan = sqlite.execute(f"EXPLAIN QUERY PLAN {select_part}", parameters).fetchall()
            details = " ".join(str(row[-1]) for row in plan)
            assert "ix_users_tenant_status_last_login_created" in details, (details, parameters)
