"""search index maintained outside the request transaction (SQLite)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27 17:00:00.000000

Until now (0004) triggers on ``users`` wrote the trigram FTS5 table ``users_fts`` in the
writing transaction: every user write paid the trigram tokenizing of eight columns, and FTS5
wrote its pending index data out once per statement, inside SQLite's single writer. Now the
triggers only note which users rows changed, in ``users_fts_pending``, and a background
indexer (rosterd.lifecycle.search_indexer) applies those changes to users_fts in batches,
each in a short transaction of its own (rosterd.repositories.search_queue). Searches also
consider every pending row, so their results stay exact in between.

``users_fts_pending`` holds one row per users rowid with a change not yet indexed: whether
users_fts holds that rowid (``indexed``) and, if so, the values it was indexed with, which a
contentless FTS5 table needs to remove it (SQLite 3.40 has no ``contentless_delete``). Only
the first change to a row since it was last indexed is noted: later ones find its row there
and leave it, since users_fts still holds what that first change recorded. So:

- a rowid not in users_fts_pending is in users_fts with the users row's current values, or
  in neither;
- a rowid in users_fts_pending is in users_fts with the noted values if ``indexed``, else
  not at all; the users row (if any) is to be indexed as it is when the indexer gets to it.

A users rowid may be reused after a delete; that keeps its pending row, which stays right.
The triggers test for the pending row instead of ``INSERT OR IGNORE``: an outer
``INSERT OR REPLACE INTO users`` would turn the trigger's IGNORE into REPLACE.

On migrating, users_fts is in step with users (0004's triggers kept it so), so the queue
starts empty. The downgrade first indexes what is pending, then puts 0004's triggers back.
As before, a later migration that rebuilds ``users`` on SQLite must drop these triggers
and users_fts first, and run this migration's and 0004's SQLite parts again.

PostgreSQL keeps its pg_trgm GIN indexes, which it maintains itself (fastupdate already
defers their insertions into a pending list): nothing changes there.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE = "users_fts_pending"
TRIGGERS = ("users_fts_pending_insert", "users_fts_pending_delete", "users_fts_pending_update")


def _search() -> ModuleType:
    """Migration 0004, whose table, columns and triggers this one builds on."""
    name = "0004_trigram_user_search"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _columns() -> str:
    return ", ".join(name for name, _ in _search()._SEARCHED)


def _note(row: str, indexed: int) -> str:
    """The trigger statement noting a change to ``row`` ("new." or "old."), unless noted."""
    values = f"{row}rowid, {indexed}"
    columns = "user_rowid, indexed"
    if indexed:
        values += ", " + _search()._values(row)
        columns += ", " + _columns()
    # Built from this module's constants only (S608 is about untrusted input).
    return (
        f"INSERT INTO {QUEUE}({columns}) SELECT {values} "  # noqa: S608
        f"WHERE NOT EXISTS (SELECT 1 FROM {QUEUE} WHERE user_rowid = {row}rowid);"
    )


def upgrade_sqlite() -> None:
    search = _search()
    for trigger in search._FTS_TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute(
        f"CREATE TABLE {QUEUE} (user_rowid INTEGER PRIMARY KEY, indexed INTEGER NOT NULL, "
        f"{_columns()})"
    )
    insert, delete, update = TRIGGERS
    op.execute(f"CREATE TRIGGER {insert} AFTER INSERT ON users BEGIN {_note('new.', 0)} END")
    op.execute(f"CREATE TRIGGER {delete} AFTER DELETE ON users BEGIN {_note('old.', 1)} END")
    op.execute(
        f"CREATE TRIGGER {update} AFTER UPDATE OF {search._READ} ON users "
        f"BEGIN {_note('old.', 1)} END"
    )


def _index_pending() -> None:
    """What the indexer would do with every pending row, at once."""
    search, columns = _search(), _columns()
    fts = search._FTS
    op.execute(
        f"INSERT INTO {fts}({fts}, rowid, {columns}) "  # noqa: S608
        f"SELECT 'delete', user_rowid, {columns} FROM {QUEUE} WHERE indexed"
    )
    op.execute(
        f"INSERT INTO {fts}(rowid, {columns}) SELECT rowid, {search._values()} FROM users "  # noqa: S608
        f"WHERE rowid IN (SELECT user_rowid FROM {QUEUE})"
    )


def downgrade_sqlite() -> None:
    _index_pending()
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute(f"DROP TABLE {QUEUE}")
    _search()._create_triggers()


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        upgrade_sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        downgrade_sqlite()
