"""Alembic, driven from code so the installed package can migrate its own database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from rosterd.db.engine import SQLITE_BUSY_TIMEOUT_MS

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary constant: the PostgreSQL advisory lock that serialises concurrent migrators.
_PG_MIGRATION_LOCK = 0x726F73746572
# How long a SQLite migrator waits for another process's upgrade to finish.
_SQLITE_UPGRADE_WAIT_MS = 600_000


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision``; safe when several processes start at once."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            # Batch migrations rebuild tables; SQLite wants foreign keys off while they do,
            # and the pragma only takes effect outside a transaction.
            driver.execute("PRAGMA foreign_keys=OFF")
            # One transaction for the whole upgrade, begun before Alembic sees the
            # connection: Alembic would otherwise commit after each migration on SQLite (no
            # transactional DDL), and a second process starting at the same moment would
            # run the next migration against a table the first is rebuilding. The write
            # engine begins IMMEDIATE, so the second waits for the lock, then finds the
            # store at head, however long the first takes (the busy timeout of requests,
            # 30 s, is too short for a whole upgrade on a loaded host; restored below).
            driver.execute(f"PRAGMA busy_timeout={_SQLITE_UPGRADE_WAIT_MS}")
            conn.begin()
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
        if engine.dialect.name == "sqlite":
            driver.execute("PRAGMA foreign_keys=ON")
            driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def is_migrated(engine: Engine) -> bool:
    """Whether the database holds a rosterd store: Alembic's version table is there."""
    with engine.connect() as conn:
        return inspect(conn).has_table("alembic_version")
