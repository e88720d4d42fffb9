"""idle sweeps, and offboarding that ends /api/v1 sessions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 17:30:00

``idle_sweeps`` holds the plans of idle sweeps and ``idle_sweep_users`` each planned user
with the outcome of applying it. ``ix_users_tenant_status_last_login_created`` lets a sweep
find a tenant's active users signed in before a time, and those never signed in created
before it, as two ranges of one index. ``admin_users.sessions_ended_at`` is when offboarding
last ended an admin's /api/v1 sessions, so a second offboarding knows there is nothing to end.

On SQLite the batch ALTER rebuilds ``admin_users``, which would drop the ``lower(username)``
index (expression indexes cannot be reflected): it is dropped first and made again after.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USERNAME_INDEX = "uq_admin_users_username"
_USERS_INDEX = "ix_users_tenant_status_last_login_created"


def upgrade() -> None:
    moment = rosterd.models.base.UTCDateTime(timezone=True)
    op.create_table(
        "idle_sweeps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("inactive_days", sa.Integer(), nullable=False),
        sa.Column("never_signed_in", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("cutoff", moment, nullable=False),
        sa.Column("user_count", sa.Integer(), nullable=False),
        sa.Column("active_users", sa.Integer(), nullable=False),
        sa.Column("guard_percent", sa.Double(), nullable=False),
        sa.Column("guard_users", sa.Integer(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("applied_by", sa.String(length=255), nullable=True),
        sa.Column("applied_at", moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_idle_sweeps_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idle_sweeps")),
    )
    op.create_index("ix_idle_sweeps_tenant_created_at", "idle_sweeps", ["tenant_id", "created_at"])
    op.create_table(
        "idle_sweep_users",
        sa.Column("sweep_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("last_login_at", moment, nullable=True),
        sa.Column("user_created_at", moment, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("skip_reason", sa.String(length=16), nullable=True),
        sa.Column("acted_at", moment, nullable=True),
        sa.ForeignKeyConstraint(
            ["sweep_id"],
            ["idle_sweeps.id"],
            name=op.f("fk_idle_sweep_users_sweep_id_idle_sweeps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_idle_sweep_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sweep_id", "user_id", name=op.f("pk_idle_sweep_users")),
    )
    op.create_index("ix_idle_sweep_users_tenant_id", "idle_sweep_users", ["tenant_id"])
    op.create_index(_USERS_INDEX, "users", ["tenant_id", "status", "last_login_at", "created_at"])
    op.drop_index(_USERNAME_INDEX, table_name="admin_users")
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("sessions_ended_at", moment, nullable=True))
    op.create_index(_USERNAME_INDEX, "admin_users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index(_USERNAME_INDEX, table_name="admin_users")
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("sessions_ended_at")
    op.create_index(_USERNAME_INDEX, "admin_users", [sa.text("lower(username)")], unique=True)
    op.drop_index(_USERS_INDEX, table_name="users")
    op.drop_index("ix_idle_sweep_users_tenant_id", table_name="idle_sweep_users")
    op.drop_table("idle_sweep_users")
    op.drop_index("ix_idle_sweeps_tenant_created_at", table_name="idle_sweeps")
    op.drop_table("idle_sweeps")
