"""The data directory and the SQLite store are readable by rosterd's user only."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from rosterd.config import Settings
from rosterd.runtime import open_runtime


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems run with, under which files come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(data_dir: Path) -> Settings:
    # No database URL: the SQLite file in the data directory, as on a first start.
    return Settings(data_dir=data_dir, database_url=None, public_url="http://testserver")


def test_a_first_start_makes_the_data_dir_and_database_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    runtime = open_runtime(_settings(data_dir))
    try:
        db = data_dir / "rosterd.db"
        assert _mode(data_dir) == 0o700
        assert _mode(db) == 0o600
        assert _mode(data_dir / "secret.key") == 0o600
        # SQLite gives its WAL and shared-memory files the database file's mode.
        wal, shm = db.with_name("rosterd.db-wal"), db.with_name("rosterd.db-shm")
        assert wal.exists() and shm.exists()
        assert _mode(wal) == 0o600
        assert _mode(shm) == 0o600
    finally:
        runtime.close()


def test_an_existing_data_dir_is_left_as_it_is(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o750)
    open_runtime(_settings(data_dir)).close()
    assert _mode(data_dir) == 0o750
    assert _mode(data_dir / "rosterd.db") == 0o600


def test_a_database_others_may_read_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    open_runtime(_settings(data_dir)).close()
    db = data_dir / "rosterd.db"
    db.chmod(0o644)  # as rosterd used to make it
    wal = db.with_name("rosterd.db-wal")
    wal.touch(mode=0o644)
    wal.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="rosterd"):
        runtime = open_runtime(_settings(data_dir))
    try:
        assert _mode(db) == 0o600
        assert _mode(wal) == 0o600
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(str(db) in m and "0600" in m for m in warned), warned
        assert any(str(wal) in m for m in warned), warned
        with runtime.db.reader() as session:  # and it still opens
            assert session.connection().exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        runtime.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rosterd"):
        open_runtime(_settings(data_dir)).close()
    assert not [r for r in caplog.records if "readable by other users" in r.getMessage()]
