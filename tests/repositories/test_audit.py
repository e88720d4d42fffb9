"""The audit trail's reads use their indexes, and retention deletes in bounded batches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, event, func, insert, select, text
from sqlalchemy.orm import Session

from rosterd.lifecycle.scheduler import BATCH, Scheduler
from rosterd.models import AuditEvent
from rosterd.repositories import audit as audit_repo
from rosterd.repositories.audit import AuditFilter
from rosterd.runtime import Runtime
from tests.factories import bare_tenant

RESOURCES = 500
EVENTS = 5000
CROWD = 12  # other tenants, each with as many events


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _rows(tenant_id: uuid.UUID, n: int, at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tenant_id,
            "occurred_at": at,
            "actor": f"client:c{i % 7}",
            "surface": "v2",
            "action": "user.updated",
            "resource_type": "user",
            "resource_id": f"r{i % RESOURCES}",
            "before": {"title": str(i)},
            "after": {"title": str(i + 1)},
            "request_id": None,
        }
        for i in range(n)
    ]


def _insert(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    with runtime.db.writer.begin() as session:
        session.execute(insert(cast(Table, AuditEvent.__table__)), rows)


@pytest.fixture(scope="module")
def busy_tenant(runtime: Runtime, backend: str) -> uuid.UUID:
    """A tenant with 5,000 events over 500 resources and 7 actors, among a dozen tenants as
    busy whose events are newer, with statistics: a walk of the whole table newest first
    would read theirs before its own."""
    tenant_id = bare_tenant(runtime)
    _insert(runtime, _rows(tenant_id, EVENTS, datetime.now(UTC)))
    for _ in range(CROWD):
        _insert(runtime, _rows(bare_tenant(runtime), EVENTS, datetime.now(UTC)))
    if backend == "postgresql":
        with runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE audit_events"))
    return tenant_id


def _plan(session: Session, backend: str, sql: str, params: Any) -> str:
    if backend == "sqlite":
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row[3]) for row in rows)
    rows = session.connection().exec_driver_sql(f"EXPLAIN {sql}", params)
    return "\n".join(str(row[0]) for row in rows)


def _plan_of(runtime: Runtime, backend: str, read: Any) -> str:
    with runtime.db.reader() as session:
        with _statements(runtime.db.engine) as seen:
            read(session)
        (sql, params), *_ = [(s, p) for s, p in seen if "audit_events" in s]
        return _plan(session, backend, sql, params)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (AuditFilter(resource_type="user", resource_id="r42"), "ix_audit_events_tenant_resource"),
        (AuditFilter(actor="client:c3"), "ix_audit_events_tenant_actor"),
        # A resource type or an action alone: the tenant's events newest first, filtered, not
        # all of a type's events sorted (a type is most of a tenant's events).
        (
            AuditFilter(resource_type="user"),
            ("ix_audit_events_tenant_id", "pk_audit_events"),
        ),
        (AuditFilter(action="user.updated"), ("ix_audit_events_tenant_id", "pk_audit_events")),
        # PostgreSQL may walk the primary key backwards instead, filtering on the tenant,
        # when the tenant holds a good share of the table (it does here); either reads in
        # order and stops at the page's end.
        (AuditFilter(), ("ix_audit_events_tenant_id", "pk_audit_events")),
    ],
)
def test_audit_pages_walk_their_index(
    runtime: Runtime,
    backend: str,
    busy_tenant: uuid.UUID,
    where: AuditFilter,
    index: str | tuple[str, ...],
) -> None:
    def read(session: Session) -> None:
        rows = audit_repo.newest_first(session, busy_tenant, where, before_id=10**12, limit=50)
        assert rows and all(r.tenant_id == busy_tenant for r in rows)
        assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)

    plan = _plan_of(runtime, backend, read)
    indexes = (index,) if isinstance(index, str) else index
    assert any(name in plan for name in indexes), plan
    # No scan of the table. SQLite walks the index in order; PostgreSQL may also fetch a
    # resource's few matches through a bitmap and sort them.
    assert "Seq Scan" not in plan and "SCAN audit_events" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_the_feed_walks_its_index(runtime: Runtime, backend: str, busy_tenant: uuid.UUID) -> None:
    def read(session: Session) -> None:
        # What it returns may be held back a moment on PostgreSQL (by other tests' open
        # transactions; rosterd.events.feed): the plan is the point here.
        audit_repo.feed_after(session, busy_tenant, (0, 0), actions=None, limit=100)

    plan = _plan_of(runtime, backend, read)
    index = "ix_audit_events_tenant_tx" if backend == "postgresql" else "ix_audit_events_tenant_id"
    assert index in plan, plan
    assert "Seq Scan" not in plan and "TEMP B-TREE" not in plan, plan


def test_one_resources_history_reads_only_its_rows(
    runtime: Runtime, busy_tenant: uuid.UUID
) -> None:
    with runtime.db.reader() as session:
        rows = audit_repo.newest_first(
            session,
            busy_tenant,
            AuditFilter(resource_type="user", resource_id="r7"),
            before_id=None,
            limit=100,
        )
    assert len(rows) == EVENTS // RESOURCES
    assert {r.resource_id for r in rows} == {"r7"}


def _count(runtime: Runtime, tenant_id: uuid.UUID) -> int:
    with runtime.db.reader() as session:
        query = select(func.count()).where(AuditEvent.tenant_id == tenant_id)
        return int(session.scalar(query) or 0)


def test_retention_deletes_old_events_in_bounded_batches(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    tenant_id, other = bare_tenant(runtime), bare_tenant(runtime)
    old = BATCH * 2 + 17
    _insert(runtime, _rows(tenant_id, old, now - timedelta(days=40)))
    _insert(runtime, _rows(tenant_id, 5, now - timedelta(days=20)))
    _insert(runtime, _rows(other, 3, now - timedelta(days=40)))
    scheduler = Scheduler(runtime.db, clock=lambda: now, audit_retention_days=30)

    with _statements(runtime.db.write_engine) as seen:
        purged = scheduler.purge_audit()

    assert purged >= old + 3  # other tests' tenants may have old events too
    assert _count(runtime, tenant_id) == 5
    assert _count(runtime, other) == 0
    deletes = [sql for sql, _ in seen if sql.lstrip().upper().startswith("DELETE")]
    assert deletes and all("LIMIT" in sql.upper() for sql in deletes), deletes
    # Run again (another node, the next interval): nothing more is due.
    assert _count(runtime, tenant_id) == 5
    assert scheduler.purge_audit() == 0


def test_retention_of_zero_days_keeps_everything(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    tenant_id = bare_tenant(runtime)
    _insert(runtime, _rows(tenant_id, 3, now - timedelta(days=4000)))
    assert Scheduler(runtime.db, clock=lambda: now, audit_retention_days=0).purge_audit() == 0
    assert _count(runtime, tenant_id) == 3
