"""case-insensitive user keys, free-text phones, every email and phone number kept

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 08:00:00

Usernames and emails were unique through ``lower()`` indexes, and ``lower()`` folds only
ASCII on SQLite: ``ÄNNA@x.com`` and ``änna@x.com`` were two users there and one on
PostgreSQL. Both are now unique through ``username_key`` and ``email_key``, which rosterd
computes itself (rosterd.domain.rules.fold: NFC, then casefold), so both databases agree.
This migration fills them in for existing users; where two users of a tenant already share a
key it stops and lists them, since only a person can say which of the two to rename.

Name order sorts by ``last_name_key`` and ``first_name_key`` (the same fold) instead of
``lower()`` of the names, for the same reason; the name-sort indexes of 0005 are rebuilt on
them.

``email_unique`` lets a tenant whose IdP has users sharing an address keep them (only true
rows are held unique). ``phone`` becomes free text of up to 64 characters, stored as sent,
with ``phone_e164`` beside it when the number has an E.164 form; phones are no longer unique
(a switchboard number is shared). ``emails`` and ``phone_numbers`` keep every address and
number a SCIM client sends, with their types.

On SQLite, widening ``phone`` rebuilds ``users`` (a batch ALTER), which renumbers rowids and
drops its triggers and expression indexes: the search index of 0004, the name-sort indexes
of 0005 and the tally triggers of 0006 are dropped first and made again after, from those
migrations' own definitions.
"""

import contextlib
import importlib.util
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import email_validator
import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fold(value: str) -> str:
    # rosterd.domain.rules.fold as of this revision: a migration keeps its own copy so that
    # it means the same thing whatever the code becomes.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def _email_key(value: str) -> str:
    with contextlib.suppress(email_validator.EmailNotValidError):
        value = email_validator.validate_email(
            value, check_deliverability=False, globally_deliverable=False, test_environment=True
        ).normalized
    return _fold(value)


def _backfill(conn: sa.Connection) -> None:
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        sa.column("username", sa.String()),
        sa.column("email", sa.String()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("username_key", sa.String()),
        sa.column("email_key", sa.String()),
        sa.column("first_name_key", sa.String()),
        sa.column("last_name_key", sa.String()),
    )
    update = (
        sa.update(users)
        .where(users.c.id == sa.bindparam("b_id"))
        .values(
            username_key=sa.bindparam("b_username_key"),
            email_key=sa.bindparam("b_email_key"),
            first_name_key=sa.bindparam("b_first_name_key"),
            last_name_key=sa.bindparam("b_last_name_key"),
        )
    )
    last: Any = None
    while True:
        stmt = sa.select(
            users.c.id, users.c.username, users.c.email, users.c.first_name, users.c.last_name
        ).order_by(users.c.id)
        if last is not None:
            stmt = stmt.where(users.c.id > last)
        rows = conn.execute(stmt.limit(_BATCH)).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {
                    "b_id": row.id,
                    "b_username_key": _fold(row.username),
                    "b_email_key": _email_key(row.email) if row.email else None,
                    "b_first_name_key": _fold(row.first_name) if row.first_name else None,
                    "b_last_name_key": _fold(row.last_name) if row.last_name else None,
                }
                for row in rows
            ],
        )
        last = rows[-1].id


def _collisions(conn: sa.Connection) -> list[str]:
    found = []
    for column in ("username_key", "email_key"):
        rows = conn.execute(
            sa.text(
                f"SELECT t.slug, u.{column}, u.id FROM users u JOIN tenants t ON t.id = u.tenant_id "  # noqa: S608
                f"WHERE (u.tenant_id, u.{column}) IN (SELECT tenant_id, {column} FROM users "
                f"WHERE {column} IS NOT NULL GROUP BY tenant_id, {column} HAVING count(*) > 1) "
                f"ORDER BY t.slug, u.{column}, u.id"
            )
        ).all()
        found += [f"tenant {slug}: {column} {key!r}: user {uid}" for slug, key, uid in rows]
    return found


def _drop_sqlite_objects() -> None:
    """What a rebuild of ``users`` on SQLite would lose or break: the triggers and search
    table of 0004 and 0006 (expression indexes are dropped before, by the caller: batch
    mode cannot reflect them, so it would not copy them)."""
    search, tallies = _migration("0004_trigram_user_search"), _migration("0006_user_tallies")
    for trigger in (*search._FTS_TRIGGERS, *tallies._SQLITE_TRIGGERS):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute(f"DROP TABLE {search._FTS}")


def _create_sqlite_objects() -> None:
    search, tallies = _migration("0004_trigram_user_search"), _migration("0006_user_tallies")
    search._upgrade_sqlite()
    for name, body in tallies._SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


_SORT_NAME_INDEXES = {
    "ix_users_tenant_status_sort_name": ["tenant_id", "status"],
    "ix_users_tenant_sort_name": ["tenant_id"],
}
_SORT_NAME_KEYS: list[str | sa.TextClause] = [
    sa.text("(last_name_key IS NULL)"),
    "last_name_key",
    sa.text("(first_name_key IS NULL)"),
    "first_name_key",
    "id",
]


def _drop_sort_name_indexes() -> None:
    for name in _SORT_NAME_INDEXES:
        op.drop_index(name, table_name="users")


def _create_sort_name_indexes(order: Sequence[str | sa.TextClause]) -> None:
    for name, leading in _SORT_NAME_INDEXES.items():
        op.create_index(name, "users", [*leading, *order])


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    # Plain ADD COLUMNs (no rebuild yet, on SQLite either). Keys sort by code point on
    # PostgreSQL too (rosterd.models.base.FoldedKey).
    key = sa.String(length=1024, collation=None if sqlite else "C")
    op.add_column("users", sa.Column("username_key", key, nullable=True))
    op.add_column("users", sa.Column("email_key", key, nullable=True))
    op.add_column("users", sa.Column("first_name_key", key, nullable=True))
    op.add_column("users", sa.Column("last_name_key", key, nullable=True))
    op.add_column(
        "users", sa.Column("email_unique", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("users", sa.Column("emails", sa.JSON(), nullable=True))
    op.add_column("users", sa.Column("phone_numbers", sa.JSON(), nullable=True))
    op.add_column("users", sa.Column("phone_e164", sa.String(length=16), nullable=True))
    _backfill(conn)
    collisions = _collisions(conn)
    if collisions:
        raise RuntimeError(
            "users that differ only in letter case (or Unicode form) share a username or an "
            "email; rename one of each pair, then migrate again:\n  " + "\n  ".join(collisions)
        )
    op.drop_index("uq_users_tenant_username", table_name="users")
    op.drop_index("uq_users_tenant_email", table_name="users")
    op.drop_index("uq_users_tenant_phone", table_name="users")
    _drop_sort_name_indexes()
    if sqlite:
        _drop_sqlite_objects()
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_key", existing_type=key, nullable=False)
        batch.alter_column("phone", existing_type=sa.String(length=16), type_=sa.String(length=64))
    if sqlite:
        _create_sqlite_objects()
    _create_sort_name_indexes(_SORT_NAME_KEYS)
    op.create_index(
        "uq_users_tenant_username_key", "users", ["tenant_id", "username_key"], unique=True
    )
    op.create_index(
        "uq_users_tenant_email_key",
        "users",
        ["tenant_id", "email_key"],
        unique=True,
        sqlite_where=sa.text("email_unique = 1"),
        postgresql_where=sa.text("email_unique"),
    )
    op.create_index("ix_users_tenant_email_key", "users", ["tenant_id", "email_key"])
    op.create_index("ix_users_tenant_phone_e164", "users", ["tenant_id", "phone_e164"])


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_users_tenant_phone_e164", table_name="users")
    op.drop_index("ix_users_tenant_email_key", table_name="users")
    op.drop_index("uq_users_tenant_email_key", table_name="users")
    op.drop_index("uq_users_tenant_username_key", table_name="users")
    _drop_sort_name_indexes()
    if sqlite:
        _drop_sqlite_objects()
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone_e164")
        batch.drop_column("phone_numbers")
        batch.drop_column("emails")
        batch.drop_column("email_unique")
        batch.drop_column("last_name_key")
        batch.drop_column("first_name_key")
        batch.drop_column("email_key")
        batch.drop_column("username_key")
        batch.alter_column(
            "phone",
            existing_type=sa.String(length=64),
            type_=sa.String(length=16),
            postgresql_using="left(phone, 16)",
        )
    if sqlite:
        _create_sqlite_objects()
    _create_sort_name_indexes(_migration("0005_sort_name_indexes")._SORT_NAME)
    op.create_index("uq_users_tenant_phone", "users", ["tenant_id", "phone"], unique=True)
    op.create_index(
        "uq_users_tenant_email", "users", ["tenant_id", sa.text("lower(email)")], unique=True
    )
    op.create_index(
        "uq_users_tenant_username", "users", ["tenant_id", sa.text("lower(username)")], unique=True
    )
