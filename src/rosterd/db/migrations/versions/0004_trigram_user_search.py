"""trigram indexes for partial-match user search

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:40:00.000000

Substring search over users (``lower(col) LIKE '%x%'``, see rosterd.repositories.user_search)
gets an index made for it:

PostgreSQL: pg_trgm GIN indexes on the lower() expressions the searches compare, one per
expression, so that an OR over several columns becomes a BitmapOr of index scans. The index
expressions must stay exactly those of the queries, or the planner cannot match them.

SQLite: ``users_fts``, an FTS5 table with the trigram tokenizer whose rowid is the users
row's rowid. It is contentless (``content=''``): it keeps only the trigram index, not a second
copy of the text as a regular FTS5 table would, and unlike an external-content table (which
reads its columns back from ``users`` by name) its columns may be expressions: the full name
and the id as searched. Triggers keep it in step with ``users``; the UPDATE trigger fires
only when a searched column is written, so logins and status changes cost nothing extra.
Removing a row from a contentless table needs the values it was indexed with, which the
triggers have as ``old.*``. FTS5 writes its pending index data out at the end of each
statement, so bulk writers insert users many rows to a statement (repositories/bulk.py).

The rowid link is stable: users has indexes, so VACUUM keeps its rowids. A later migration
that rebuilds ``users`` (a batch ``ALTER`` on SQLite copies the rows, renumbering rowids, and
drops the triggers) must drop users_fts first and run this migration's SQLite part again.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (FTS column / index suffix, SQL expression over a users row, ``{r}`` standing for the row:
# "new." or "old." in a trigger). Every searched expression: the v2 query, the user-identities
# search, and SCIM co/sw/ew on userName, emails, phoneNumbers, the name parts and displayName.
_SEARCHED = (
    ("username", "{r}username"),
    ("email", "{r}email"),
    ("first_name", "{r}first_name"),
    ("last_name", "{r}last_name"),
    ("display_name", "{r}display_name"),
    ("phone", "{r}phone"),
    ("full_name", "trim(coalesce({r}first_name, '') || ' ' || coalesce({r}last_name, ''))"),
    ("id", "replace(CAST({r}id AS VARCHAR), '-', '')"),
)

_FTS = "users_fts"
_FTS_TRIGGERS = ("users_fts_insert", "users_fts_delete", "users_fts_update")
# The users columns those expressions read: an UPDATE of any other leaves users_fts alone.
_READ = "username, email, first_name, last_name, display_name, phone, id"


def _values(row: str = "") -> str:
    return ", ".join(expression.format(r=row) for _, expression in _SEARCHED)


def _create_triggers() -> None:
    # All SQL here is built from this module's constants (S608 is about untrusted input).
    columns = ", ".join(name for name, _ in _SEARCHED)
    add_new = f"INSERT INTO {_FTS}(rowid, {columns}) VALUES (new.rowid, {_values('new.')});"  # noqa: S608
    remove_old = (
        f"INSERT INTO {_FTS}({_FTS}, rowid, {columns}) "  # noqa: S608
        f"VALUES ('delete', old.rowid, {_values('old.')});"
    )
    op.execute(f"CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN {add_new} END")
    op.execute(f"CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN {remove_old} END")
    op.execute(
        f"CREATE TRIGGER users_fts_update AFTER UPDATE OF {_READ} ON users "
        f"BEGIN {remove_old} {add_new} END"
    )


def _upgrade_sqlite() -> None:
    columns = ", ".join(name for name, _ in _SEARCHED)
    # columnsize=0: no per-row token counts, which only ranking (bm25) would read.
    op.execute(
        f"CREATE VIRTUAL TABLE {_FTS} "
        f"USING fts5({columns}, content='', columnsize=0, tokenize='trigram')"
    )
    _create_triggers()
    op.execute(f"INSERT INTO {_FTS}(rowid, {columns}) SELECT rowid, {_values()} FROM users")  # noqa: S608
    # One b-tree instead of the many segments a large INSERT leaves: faster queries.
    op.execute("INSERT INTO users_fts(users_fts) VALUES ('optimize')")


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # The extension is per database and may live in a schema outside the search_path (it may
    # predate rosterd, or serve several schemas), so its operator class is named in full.
    schema = op.get_bind().scalar(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    )
    for name, expression in _SEARCHED:
        op.execute(
            f"CREATE INDEX ix_users_trgm_{name} ON users "
            f"USING gin (lower({expression.format(r='')}) {schema}.gin_trgm_ops)"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _upgrade_sqlite()
    elif dialect == "postgresql":
        _upgrade_postgresql()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in _FTS_TRIGGERS:
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute(f"DROP TABLE {_FTS}")
    elif dialect == "postgresql":
        # The pg_trgm extension stays: it is database-wide and other schemas may use it.
        for name, _ in _SEARCHED:
            op.execute(f"DROP INDEX ix_users_trgm_{name}")
