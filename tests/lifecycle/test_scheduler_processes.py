"""Two scheduler processes on one store, each with the clock injected at the same moment
past the same due rows: every activation, expiry and membership removal happens once.

On PostgreSQL the processes split the rows through row locks (SKIP LOCKED); on SQLite they
take turns at the one write lock. Each is a fresh interpreter (spawn) with connections of its
own, as two `rosterd serve` nodes are.
"""

from __future__ import annotations

import multiprocessing
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, event, insert, select, text
from sqlalchemy.orm import Session

from rosterd.db.engine import make_database
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import AuditEvent, Group, GroupMembership, UserStatus
from rosterd.models.base import utcnow
from rosterd.repositories import bulk as bulk_repo
from rosterd.repositories import groups as groups_repo
from rosterd.repositories import users as users_repo
from rosterd.runtime import Runtime
from tests.factories import V2, TenantHandle, bare_tenant
from tests.lifecycle.test_scheduled_access import ahead, get_user, members, wire

DUE = 30  # of each kind of action


def run_scheduler(url: str, at: str, go: Any, done: Any) -> None:
    """A scheduler process: wait for ``go``, then run once with its clock at ``at``."""
    db = make_database(url, pool_size=2)
    moment = datetime.fromisoformat(at)
    try:
        go.wait(60)
        done.put(("ok", Scheduler(db, clock=lambda: moment).run_once()))
    except BaseException as exc:  # reported in the test's process
        done.put(("failed", repr(exc)))
    finally:
        db.dispose()


def _post(tenant: TenantHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = tenant.http.post(f"{V2}{path}", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _user(tenant: TenantHandle, **fields: Any) -> str:
    n = secrets.token_hex(4)
    body = {"email": f"proc-{n}@example.com", "firstName": "P", "lastName": f"U{n}", **fields}
    return str(_post(tenant, "/users", body)["id"])


def test_two_scheduler_processes_act_once_per_due_row(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    when = ahead(days=400)
    starting = [_user(tenant, validFrom=wire(when)) for _ in range(DUE)]
    ending = [_user(tenant, expiresAt=wire(when)) for _ in range(DUE)]
    groups = [tenant.group()["id"] for _ in range(3)]
    for i, user_id in enumerate(ending):
        _post(
            tenant, f"/groups/{groups[i % 3]}/members", {"userId": user_id, "expiresAt": wire(when)}
        )

    spawn = multiprocessing.get_context("spawn")
    go, done = spawn.Event(), spawn.Queue()
    at = (when + timedelta(seconds=1)).isoformat()
    url = runtime.settings.resolved_database_url
    processes = [spawn.Process(target=run_scheduler, args=(url, at, go, done)) for _ in range(2)]
    for p in processes:
        p.start()
    go.set()
    results = [done.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    assert [state for state, _ in results] == ["ok", "ok"], results

    with runtime.db.reader() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.before).where(
                AuditEvent.tenant_id == tenant.id,
                AuditEvent.action.in_(["user.activated", "user.expired", "group.member_expired"]),
            )
        ).all()
    by_action = Counter(action for action, _, _ in rows)
    assert by_action == {"user.activated": DUE, "user.expired": DUE, "group.member_expired": DUE}
    assert sorted(r for a, r, _ in rows if a == "user.activated") == sorted(starting)
    assert sorted(r for a, r, _ in rows if a == "user.expired") == sorted(ending)
    removed = sorted(b["user_id"] for a, _, b in rows if a == "group.member_expired")
    assert removed == sorted(ending)
    assert {get_user(tenant, u)["status"] for u in starting} == {"active"}
    assert {get_user(tenant, u)["status"] for u in ending} == {"inactive"}
    assert all(members(tenant, g) == {} for g in groups)


# ---- the due work is found through its indexes ---------------------------------------------


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


CROWD = 20_000


@pytest.fixture(scope="module")
def crowd(runtime: Runtime, backend: str) -> None:
    """A directory where dates are the exception: most users have none, some expired long
    ago (inactive), a few wait for their start or their end, and a group holds memberships
    of which a few end; with statistics (PostgreSQL's planner chooses by them)."""
    tenant_id = bare_tenant(runtime)
    now = utcnow()
    group_id = uuid.uuid4()

    def person(n: int) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": UserStatus.active}
        if n % 10 == 0:
            fields = {"status": UserStatus.inactive, "expires_at": now - timedelta(days=n)}
        elif n % 97 == 0:
            fields = {"status": UserStatus.pending, "valid_from": now + timedelta(days=n)}
        elif n % 89 == 0:
            fields["expires_at"] = now + timedelta(days=n)
        return fields

    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "number": n,
            "username": (name := f"crowd-{n}"),
            "username_key": name,
            **person(n),
        }
        for n in range(1, CROWD + 1)
    ]
    with runtime.db.writer.begin() as session:
        bulk_repo.insert_users(session, rows)
        session.execute(
            insert(cast(Table, Group.__table__)),
            [{"id": group_id, "tenant_id": tenant_id, "name": "crowd", "version": 1}],
        )
        session.execute(
            insert(cast(Table, GroupMembership.__table__)),
            [
                {
                    "group_id": group_id,
                    "user_id": row["id"],
                    "tenant_id": tenant_id,
                    "created_at": now,
                    "expires_at": now + timedelta(days=1) if i % 50 == 0 else None,
                }
                for i, row in enumerate(rows)
            ],
        )
    with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE users" if backend == "postgresql" else "ANALYZE"))
        if backend == "postgresql":
            c.execute(text("ANALYZE group_memberships"))


@pytest.mark.parametrize(
    ("find", "index"),
    [
        (users_repo.due_for_expiry, "ix_users_status_expires_at"),
        (users_repo.due_for_activation, "ix_users_status_valid_from"),
        (groups_repo.due_memberships, "ix_group_memberships_expires_at"),
    ],
)
def test_due_work_is_a_range_of_its_index(
    runtime: Runtime,
    backend: str,
    crowd: None,
    find: Callable[[Session, datetime, int], Any],
    index: str,
) -> None:
    """The scheduler's queries read a range of a partial index over the rows with a date,
    never the table: at a million users, the cost is the due rows, not the directory (nor
    the users expired long ago)."""
    with runtime.db.writer() as session:
        with _statements(runtime.db.write_engine) as seen:
            find(session, utcnow(), 500)
        [(sql, params)] = seen
        if backend == "sqlite":
            rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = "\n".join(str(row[3]) for row in rows)
            assert f"USING INDEX {index} (" in plan, plan
            assert "SCAN" not in plan.replace("USE TEMP B-TREE", ""), plan
        else:
            rows = session.connection().exec_driver_sql(f"EXPLAIN {sql}", params)
            plan = "\n".join(str(row[0]) for row in rows)
            assert f"Index Scan using {index}" in plan or f"Bitmap Index Scan on {index}" in plan, (
                plan
            )
            assert "Index Cond" in plan and "Seq Scan" not in plan, plan
        session.rollback()
