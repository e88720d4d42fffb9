"""per-tenant, per-status user tallies kept by triggers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 19:30:00

``user_tallies`` holds, for each tenant and status, how many users there are, so that a
page whose only filter is the status can report its total without counting a million rows
(rosterd.repositories.user_tallies). Triggers on ``users`` keep it, so every writer (the
APIs, SCIM /Bulk, ``rosterd import``, a tenant's cascading delete, a hand-written UPDATE)
moves it in the same transaction as the rows it counts, and it cannot drift.

SQLite runs one writer at a time, so row-level triggers with an UPSERT are enough.

PostgreSQL runs writers side by side, and each tally row is a hot row. The triggers are
statement-level (a bulk INSERT moves each tally once, with transition tables), and before
touching a tally they lock the tenant's row (``FOR NO KEY UPDATE``, the lock the user-number
allocator already takes when a user is created). Every transaction therefore takes the
tenant first and its tallies after, and tallies are only written under that lock: two
writers cannot lock the same tallies in opposite orders, so they queue instead of
deadlocking. The cost is that, per tenant, transactions that create, delete or change the
status of users commit one after another, as creations already did; other updates (a
title, a login time, memberships) only pay for the trigger's check that no status moved.

Like 0004's search objects, the triggers hang off ``users``: a later migration that rebuilds
``users`` on SQLite (a batch ALTER) drops them and must create them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = {
    "user_tallies_insert": """
        AFTER INSERT ON users BEGIN
            INSERT INTO user_tallies (tenant_id, status, users)
            VALUES (new.tenant_id, new.status, 1)
            ON CONFLICT (tenant_id, status) DO UPDATE SET users = users + 1;
        END""",
    "user_tallies_delete": """
        AFTER DELETE ON users BEGIN
            UPDATE user_tallies SET users = users - 1
            WHERE tenant_id = old.tenant_id AND status = old.status;
        END""",
    "user_tallies_update": """
        AFTER UPDATE OF tenant_id, status ON users
        WHEN old.status IS NOT new.status OR old.tenant_id IS NOT new.tenant_id BEGIN
            UPDATE user_tallies SET users = users - 1
            WHERE tenant_id = old.tenant_id AND status = old.status;
            INSERT INTO user_tallies (tenant_id, status, users)
            VALUES (new.tenant_id, new.status, 1)
            ON CONFLICT (tenant_id, status) DO UPDATE SET users = users + 1;
        END""",
}

# PostgreSQL: one statement-level trigger function per event, reading the statement's
# transition tables. A removal only ever lowers an existing tally (an UPSERT there would
# recreate the tally of a tenant being deleted, whose cascade may already have removed it).
_LOCK_TENANTS = "PERFORM 1 FROM tenants WHERE id IN ({ids}) ORDER BY id FOR NO KEY UPDATE;"
_ADD = """
    INSERT INTO user_tallies (tenant_id, status, users)
        SELECT n.tenant_id, n.status, count(*) FROM {rows} GROUP BY n.tenant_id, n.status
    ON CONFLICT (tenant_id, status) DO UPDATE SET users = user_tallies.users + excluded.users;"""
_REMOVE = """
    UPDATE user_tallies AS t SET users = t.users - d.n
    FROM (SELECT o.tenant_id, o.status, count(*) AS n FROM {rows}
          GROUP BY o.tenant_id, o.status) AS d
    WHERE t.tenant_id = d.tenant_id AND t.status = d.status;"""
_MOVED = (
    "old_rows AS o JOIN new_rows AS n ON n.id = o.id "
    "WHERE o.status <> n.status OR o.tenant_id <> n.tenant_id"
)
_PG_TRIGGERS = {
    "user_tallies_insert": (
        "INSERT",
        "NEW TABLE AS new_rows",
        _LOCK_TENANTS.format(ids="SELECT tenant_id FROM new_rows")
        + _ADD.format(rows="new_rows AS n"),
    ),
    "user_tallies_delete": (
        "DELETE",
        "OLD TABLE AS old_rows",
        _LOCK_TENANTS.format(ids="SELECT tenant_id FROM old_rows")
        + _REMOVE.format(rows="old_rows AS o"),
    ),
    "user_tallies_update": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        # Built from this module's constants only (S608 is about untrusted input).
        f"IF NOT EXISTS (SELECT 1 FROM {_MOVED}) THEN RETURN NULL; END IF;"  # noqa: S608
        + _LOCK_TENANTS.format(
            ids="SELECT tenant_id FROM old_rows UNION SELECT tenant_id FROM new_rows"
        )
        + _REMOVE.format(rows=_MOVED)
        + _ADD.format(rows=_MOVED),
    ),
}


def upgrade() -> None:
    op.create_table(
        "user_tallies",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "suspended",
                "inactive",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_user_tallies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "status", name=op.f("pk_user_tallies")),
    )
    op.execute(
        "INSERT INTO user_tallies (tenant_id, status, users) "
        "SELECT tenant_id, status, count(*) FROM users GROUP BY tenant_id, status"
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    elif dialect == "postgresql":
        for name, (event, transition, body) in _PG_TRIGGERS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON users REFERENCING {transition} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    elif dialect == "postgresql":
        for name in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON users")
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("user_tallies")
