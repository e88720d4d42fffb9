"""Migrations 0006 and 0023: user tallies start out equal to the users already there, go
away, and move to slots and back without changing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, Uuid, bindparam, inspect, text

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
    """Each status's tally (the sum of its slots from 0023 on)."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, sum(users) FROM user_tallies GROUP BY status"))
        return {status: n for status, n in rows if n}


def _users_at_0005(engine: Engine, statuses: list[str]) -> uuid.UUID:
    """A store at 0005 (before the tallies) holding one tenant with users of ``statuses``."""
    upgrade(engine, "0005")
    tenant_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            _tenants_0003.insert().values(
                id=tenant_id,
                slug="t",
                name="t",
                settings={},
                last_user_number=len(statuses),
                created_at=now,
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
                for number, status in enumerate(statuses, start=1)
            ],
        )
    return tenant_id


def test_0006_counts_the_users_already_there_and_keeps_counting(engine: Engine) -> None:
    _users_at_0005(engine, ["active", "active", "suspended"])
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


def _slots(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, slot FROM user_tallies ORDER BY status, slot"))
        return [(status, slot) for status, slot in rows]


def test_0023_keeps_each_tally_in_slot_0_and_its_downgrade_sums_the_slots(engine: Engine) -> None:
    tenant_id = _users_at_0005(engine, ["active", "active", "pending"])
    upgrade(engine, "0022")
    assert _tallies(engine) == {"active": 2, "pending": 1}
    upgrade(engine)
    assert _slots(engine) == [("active", 0), ("pending", 0)]
    assert _tallies(engine) == {"active": 2, "pending": 1}
    # Slots as PostgreSQL's backends leave them (SQLite's triggers only ever use slot 0).
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_tallies (tenant_id, status, slot, users) "
                "VALUES (:t, 'active', 7, 3), (:t, 'active', 9, -1), (:t, 'inactive', 9, 1)"
            ).bindparams(bindparam("t", tenant_id, Uuid())),
        )
    _downgrade(engine, "0022")
    assert _slots_gone(engine)
    assert _tallies(engine) == {"active": 4, "pending": 1, "inactive": 1}
    # 0006's triggers are back and count as before.
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET status = 'inactive' WHERE username = 'u1'"))
    assert _tallies(engine) == {"active": 3, "pending": 1, "inactive": 2}


def _slots_gone(engine: Engine) -> bool:
    return "slot" not in {c["name"] for c in inspect(engine).get_columns("user_tallies")}
