"""user tallies in slots: concurrent writers in one tenant no longer queue on its row

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-29 02:30:00

0006's PostgreSQL triggers locked the tenant's row before moving a tally, so every
transaction that created, deleted or changed the status of a tenant's users held that lock
until it committed, and they committed one after another. Under 16 concurrent SCIM creates,
15 of 16 backends waited on it (``pg_stat_activity``: ``Lock: transactionid``), and the one
holding it was often waiting for its own request's Python code to get the GIL back.

Each tally is now spread over slots: the rows (tenant, status, slot) add up to the tally.
On PostgreSQL a trigger adds its statement's changes, positive or negative, to the slot of
its own backend (``pg_backend_pid()``). A backend runs one transaction at a time, so no two
transactions ever write the same tally row: they neither wait nor deadlock, and no tenant
lock is taken. Readers already sum the rows of the statuses they want. The scheduler folds
the slots of committed transactions into slot 0 now and then
(``rosterd.repositories.user_tallies.fold``), so a tally stays a handful of rows.

SQLite has one writer at a time: its triggers keep using slot 0 alone, as before.

A removal is only written while the tenant is still there: a tenant's cascading delete
removes its users after its tallies, and a tally row for it then would violate the foreign
key (0006's removals only ever lowered an existing row for the same reason).
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("user_tallies_insert", "user_tallies_delete", "user_tallies_update")

_SQLITE_ADD = """
            INSERT INTO user_tallies (tenant_id, status, slot, users)
            VALUES (new.tenant_id, new.status, 0, 1)
            ON CONFLICT (tenant_id, status, slot) DO UPDATE SET users = users + 1;"""
_SQLITE_REMOVE = """
            UPDATE user_tallies SET users = users - 1
            WHERE tenant_id = old.tenant_id AND status = old.status AND slot = 0;"""
_SQLITE_TRIGGERS = {
    "user_tallies_insert": f"AFTER INSERT ON users BEGIN {_SQLITE_ADD} END",
    "user_tallies_delete": f"AFTER DELETE ON users BEGIN {_SQLITE_REMOVE} END",
    "user_tallies_update": f"""
        AFTER UPDATE OF tenant_id, status ON users
        WHEN old.status IS NOT new.status OR old.tenant_id IS NOT new.tenant_id BEGIN
            {_SQLITE_REMOVE}
            {_SQLITE_ADD}
        END""",
}

# PostgreSQL: each statement-level trigger adds the changes of its statement, as deltas
# summed per (tenant, status), to its backend's slot (one row per key: an UPSERT may not
# touch a row twice).
_DELTAS = """
    INSERT INTO user_tallies (tenant_id, status, slot, users)
        SELECT d.tenant_id, d.status, pg_backend_pid(), sum(d.n) FROM ({deltas}) AS d
        WHERE EXISTS (SELECT 1 FROM tenants AS t WHERE t.id = d.tenant_id)
        GROUP BY d.tenant_id, d.status
    ON CONFLICT (tenant_id, status, slot) DO UPDATE SET users = user_tallies.users + excluded.users;"""
_ADDED = "SELECT n.tenant_id, n.status, 1 AS n FROM new_rows AS n"
_REMOVED = "SELECT o.tenant_id, o.status, -1 AS n FROM old_rows AS o"
_MOVED = (
    "JOIN new_rows AS n ON n.id = o.id WHERE o.status <> n.status OR o.tenant_id <> n.tenant_id"
)
# Built from this module's constants only (S608 is about untrusted input).
_MOVED_DELTAS = (
    f"{_REMOVED} {_MOVED} UNION ALL "  # noqa: S608
    f"SELECT n.tenant_id, n.status, 1 AS n FROM old_rows AS o {_MOVED}"
)
_PG_TRIGGERS = {
    "user_tallies_insert": ("INSERT", "NEW TABLE AS new_rows", _DELTAS.format(deltas=_ADDED)),
    "user_tallies_delete": ("DELETE", "OLD TABLE AS old_rows", _DELTAS.format(deltas=_REMOVED)),
    "user_tallies_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        # An update that moves no status (a title, a login time) pays for this check alone.
        f"IF NOT EXISTS (SELECT 1 FROM old_rows AS o {_MOVED}) THEN RETURN NULL; END IF;"  # noqa: S608
        + _DELTAS.format(deltas=_MOVED_DELTAS),
    ),
}


def _drop_triggers(dialect: str) -> None:
    for name in _TRIGGERS:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER {name}")
        else:
            op.execute(f"DROP TRIGGER {name} ON users")
            op.execute(f"DROP FUNCTION {name}()")


def _create_triggers(
    dialect: str, sqlite: dict[str, str], postgresql: dict[str, tuple[str, str, str]]
) -> None:
    if dialect == "sqlite":
        for name, body in sqlite.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        return
    for name, (event, transition, body) in postgresql.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON users REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    with op.batch_alter_table("user_tallies") as batch_op:
        batch_op.add_column(sa.Column("slot", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_constraint("pk_user_tallies", type_="primary")
        batch_op.create_primary_key("pk_user_tallies", ["tenant_id", "status", "slot"])
    _create_triggers(dialect, _SQLITE_TRIGGERS, _PG_TRIGGERS)


def _revision_0006() -> ModuleType:
    """Migration 0006, whose triggers a downgrade puts back (its file name is no module name)."""
    path = Path(__file__).with_name("0006_user_tallies.py")
    spec = importlib.util.spec_from_file_location("rosterd_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    # Each tally back in one row: the sum of its slots, kept in its lowest slot.
    same_key = (
        "FROM user_tallies AS z WHERE z.tenant_id = user_tallies.tenant_id "
        "AND z.status = user_tallies.status"
    )
    # Built from this module's constants only (S608 is about untrusted input).
    summed = f"UPDATE user_tallies SET users = (SELECT sum(z.users) {same_key})"  # noqa: S608
    lowest = f"(SELECT min(z.slot) {same_key})"
    op.execute(f"{summed} WHERE slot = {lowest}")
    op.execute(f"DELETE FROM user_tallies WHERE slot <> {lowest}")  # noqa: S608
    with op.batch_alter_table("user_tallies") as batch_op:
        batch_op.drop_constraint("pk_user_tallies", type_="primary")
        batch_op.create_primary_key("pk_user_tallies", ["tenant_id", "status"])
        batch_op.drop_column("slot")
    old = _revision_0006()
    _create_triggers(dialect, old._SQLITE_TRIGGERS, old._PG_TRIGGERS)
