"""Migration 0006: user tallies start out equal to the users already there, and go away."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from rosterd.db.engine import make_database
from rosterd.db.migrate import upgrade
from tests.backends import database_url
from tests.db.test_migrations import _downgrade
from tests.db.test_user_search_migration import _tenants_0003, _users_0003


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    with database_url(backend, tmp_path) as url:
        db = make_database(url, pool_size=2)
        try:
            yield db.write_engine
        finally:
            db.dispose()


def _tallies(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, users FROM user_tallies"))
        return {status: n for status, n in rows}


def test_0006_counts_the_users_already_there_and_keeps_counting(engine: Engine) -> None:
    upgrade(engine, "0005")
    tenant_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            _tenants_0003.insert().values(
                id=tenant_id, slug="t", name="t", settings={}, last_user_number=3, created_at=now
            )
        )
        conn.execute(
            _users_0003.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "number": number,
                    "username": f"u{number}",
                    "status": status,
                    "created_at": now,
                    "modified_at": now,
                    "version": 1,
                }
                for number, status in enumerate(["active", "active", "suspended"], start=1)
            ],
        )
    upgrade(engine)
    assert _tallies(engine) == {"active": 2, "suspended": 1}
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET status = 'inactive' WHERE username = 'u1'"))
    assert _tallies(engine) == {"active": 1, "suspended": 1, "inactive": 1}


def test_0006_downgrade_drops_the_table_and_its_triggers(engine: Engine) -> None:
    upgrade(engine)
    _downgrade(engine, "0005")
    assert "user_tallies" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name LIKE 'user_tallies%'")
            )
        else:
            found = conn.execute(
                text(
                    "SELECT proname FROM pg_proc WHERE proname LIKE 'user_tallies%' "
                    "AND pronamespace = current_schema()::regnamespace"
                )
            )
        assert found.all() == []
