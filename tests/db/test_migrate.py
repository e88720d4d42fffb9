"""Migrating from code: several processes starting at once on one empty store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from rosterd.db import migrate
from rosterd.db.engine import make_database


def test_a_sqlite_upgrade_holds_the_write_lock_from_first_migration_to_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alembic commits after each migration on SQLite unless it is handed a transaction; a
    second process would then run the next migration against a table the first is
    rebuilding (a CI run saw `KeyError: 'locked_until'` from two `rosterd serve` starting
    together). So when the last migration has run, the lock taken before the first is
    still held: another connection cannot begin writing until the upgrade commits."""
    path = tmp_path / "rosterd.db"
    db = make_database(f"sqlite:///{path.as_posix()}")
    seen: list[str] = []
    run_migrations = command.upgrade

    def then_try_to_write(*args: Any, **kwargs: Any) -> None:
        run_migrations(*args, **kwargs)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            seen.append("free")
            other.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()

    monkeypatch.setattr(command, "upgrade", then_try_to_write)
    try:
        migrate.upgrade(db.write_engine)
        assert seen == ["database is locked"]
        assert migrate.is_migrated(db.engine)
    finally:
        db.dispose()
