"""Prepared statements give the values SQLAlchemy would, on both databases, and point reads
survive a PostgreSQL connection that died in the pool."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Integer, Table, bindparam, func, insert, select, text, update

from rosterd.db.point_reads import APPLICATION_NAME
from rosterd.db.prepared import PointReader, Prepared, PreparedWrite
from rosterd.models import AuditEvent, Role, User, UserStatus
from rosterd.repositories import audit as audit_repo
from rosterd.runtime import Runtime
from tests.factories import bare_tenant, stored_user

LISTING = Prepared(
    select(User.id, User.email, User.status, User.created_at, User.last_login_at, Role.name)
    .outerjoin(Role, Role.id == User.role_id)
    .where(User.tenant_id == bindparam("tenant_id"), User.status == UserStatus.suspended),
    name="Listing",
)


def read(runtime: Runtime, prepared: Prepared, **params: object) -> list[object]:
    async def run(db: PointReader) -> list[object]:
        return await prepared.all(db, params)

    async def main() -> list[object]:
        try:
            return await runtime.work.read_point(run)
        finally:
            await runtime.work.aclose()

    return asyncio.run(main())


def test_rows_are_what_sqlalchemy_gives(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    seen = datetime.now(UTC) - timedelta(days=3)
    with runtime.db.writer.begin() as session:
        role = Role(tenant_id=tenant_id, name="prepared", permissions=[])
        session.add(role)
        session.flush()
        for n, status in enumerate((UserStatus.suspended, UserStatus.active)):
            session.add(
                stored_user(
                    tenant_id=tenant_id,
                    number=n + 1,
                    username=f"p{n}",
                    email=f"p{n}@example.com",
                    identity_key=f"p{n}",
                    status=status,
                    role_id=role.id,
                    last_login_at=seen,
                )
            )
    rows = read(runtime, LISTING, tenant_id=tenant_id)
    with runtime.db.reader() as session:
        expected = session.execute(
            LISTING._statement, {"tenant_id": tenant_id}
        ).all()  # the constant (status) is part of the statement
    assert len(rows) == 1
    assert tuple(rows[0]) == tuple(expected[0])
    (row,) = rows
    assert isinstance(row.id, uuid.UUID)
    assert row.status is UserStatus.suspended
    assert row.created_at.tzinfo is not None and row.last_login_at == seen
    assert row.name == "prepared" and row.email == "p0@example.com"
    assert read(runtime, LISTING, tenant_id=uuid.uuid4()) == []


def test_a_point_read_survives_its_connection_dying(runtime: Runtime, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no server to lose the connection to")
    probe = Prepared(select(func.pg_backend_pid().label("pid"), bindparam("n", type_=Integer)))

    async def pid(db: PointReader) -> int:
        return int((await probe.first(db, {"n": 1}))[0])

    async def main() -> tuple[int, int]:
        try:
            first = await runtime.work.read_point(pid)
            with runtime.db.writer.begin() as session:
                killed = session.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND datname = current_database()"
                    ),
                    {"name": APPLICATION_NAME},
                ).all()
            assert killed, "no point-read connection to kill"
            return first, await runtime.work.read_point(pid)
        finally:
            await runtime.work.aclose()

    first, second = asyncio.run(main())
    assert first != second


def test_a_prepared_write_stores_what_sqlalchemy_would(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    values = {
        "tenant_id": tenant_id,
        "occurred_at": at,
        "actor": "prepared",
        "surface": "v2",
        "action": "user.updated",
        "resource_type": "user",
        "resource_id": str(uuid.uuid4()),
        "before": {"email": "a@example.com", "emails": [{"value": "ä@example.com"}], "n": 1},
        "after": None,
        "request_id": None,
    }
    with runtime.db.writer.begin() as session:
        session.execute(insert(cast(Table, AuditEvent.__table__)), values)
        audit_repo.add(session, values)
    with runtime.db.reader() as session:
        rows = audit_repo.for_resource(session, tenant_id, "user", values["resource_id"])
        stored = session.execute(
            select(AuditEvent.__table__.c.before, AuditEvent.__table__.c.after).where(
                AuditEvent.tenant_id == tenant_id
            )
        ).all()
    assert len(rows) == 2
    seen = [{c: getattr(row, c) for c in values} for row in rows]
    assert seen[0] == seen[1] == values
    assert rows[0].tx == rows[1].tx  # the database's default filled in both
    # JSON null, as SQLAlchemy stores a None of a JSON column (not SQL NULL)
    assert stored[0] == stored[1]


def test_a_prepared_write_counts_rows_and_sees_pending_entities(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    rename = PreparedWrite(
        update(cast(Table, Role.__table__))
        .where(Role.__table__.c.tenant_id == bindparam("t"))
        .values(description=bindparam("d"), modified_at=bindparam("m"))
    )
    now = datetime.now(UTC)
    with runtime.db.writer.begin() as session:
        session.add(Role(tenant_id=tenant_id, name="pending", permissions=[]))
        # The role is flushed first, as Session.execute would: the UPDATE finds it.
        assert rename.run(session, {"t": tenant_id, "d": "seen", "m": now}) == 1
        assert rename.run(session, {"t": uuid.uuid4(), "d": "none", "m": now}) == 0
    with runtime.db.reader() as session:
        role = session.scalars(select(Role).where(Role.tenant_id == tenant_id)).one()
    assert role.description == "seen"


def test_a_prepared_write_refuses_python_side_defaults(runtime: Runtime) -> None:
    with (
        runtime.db.writer.begin() as session,
        pytest.raises(TypeError, match="no Python-side defaults"),
    ):
        PreparedWrite(insert(cast(Table, AuditEvent.__table__))).run(
            session, {"tenant_id": uuid.uuid4()}, columns=["tenant_id"]
        )
