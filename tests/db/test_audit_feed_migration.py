"""Migration 0012: the audit events already there stay, first in the feed, and ids are not
reused on SQLite once the newest rows are gone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, Uuid, text
from sqlalchemy.orm import Session

from rosterd.db.engine import make_database
from rosterd.db.migrate import upgrade
from rosterd.models.base import UTCDateTime
from rosterd.repositories import audit as audit_repo
from tests.backends import database_url
from tests.db.test_user_search_migration import _tenants_0003

# audit_events as 0010 left it, without the id (the store gives it) and the JSON columns.
_audit_0010 = Table(
    "audit_events",
    MetaData(),
    Column("tenant_id", Uuid),
    Column("occurred_at", UTCDateTime()),
    *(Column(name, String) for name in ("actor", "surface", "action", "resource_type")),
    Column("resource_id", String),
)


def _add(engine: Engine, tenant_id: uuid.UUID, *resource_ids: str) -> None:
    with engine.begin() as conn:
        for rid in resource_ids:
            conn.execute(
                _audit_0010.insert().values(
                    tenant_id=tenant_id,
                    occurred_at=datetime.now(UTC),
                    actor="test",
                    surface="test",
                    action="user.created",
                    resource_type="user",
                    resource_id=rid,
                )
            )


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with database_url(backend, tmp_path) as url:
        db = make_database(url, pool_size=2)
        try:
            yield db.write_engine
        finally:
            db.dispose()


def _tenant(engine: Engine) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            _tenants_0003.insert().values(
                id=tenant_id,
                slug="t",
                name="t",
                settings={},
                last_user_number=0,
                created_at=datetime.now(UTC),
            )
        )
    return tenant_id


def test_0012_keeps_old_events_first_in_the_feed(engine: Engine, backend: str) -> None:
    upgrade(engine, "0011")
    tenant_id = _tenant(engine)
    _add(engine, tenant_id, "old-1", "old-2")
    upgrade(engine)
    _add(engine, tenant_id, "new")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT resource_id, tx FROM audit_events ORDER BY id")).all()
    assert [r[0] for r in rows] == ["old-1", "old-2", "new"]
    if backend == "postgresql":
        # The old events sort first; the new one carries its transaction's id.
        assert [r[1] for r in rows[:2]] == [0, 0] and rows[2][1] > 0
    else:
        assert [r[1] for r in rows] == [None, None, None]
    # On PostgreSQL "new" shows once every older transaction on the server has ended (other
    # tests' may be open a moment longer; rosterd.events.feed).
    deadline = time.monotonic() + 30
    while True:
        with Session(engine) as session:
            feed = audit_repo.feed_after(session, tenant_id, (0, 0), actions=None, limit=10)
        if len(feed) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [e.resource_id for e in feed] == ["old-1", "old-2", "new"]


def test_0012_ids_are_never_handed_out_twice(engine: Engine) -> None:
    upgrade(engine)
    tenant_id = _tenant(engine)
    _add(engine, tenant_id, "a", "b")
    with engine.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": newest})
    _add(engine, tenant_id, "c")
    with engine.begin() as conn:
        again = conn.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
    assert again > newest
