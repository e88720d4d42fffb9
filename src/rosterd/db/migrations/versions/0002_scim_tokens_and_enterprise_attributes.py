"""scim tokens and enterprise attributes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:54:36.898160
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A batch (table-rebuilding) migration on SQLite cannot carry expression indexes over, since
# they cannot be reflected; they are created again after it.
_USER_EXPRESSION_INDEXES = (
    ("uq_users_tenant_username", "lower(username)"),
    ("uq_users_tenant_email", "lower(email)"),
)


def _restore_expression_indexes() -> None:
    for name, expression in _USER_EXPRESSION_INDEXES:
        op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON users (tenant_id, {expression})")


def upgrade() -> None:
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_scim_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_tokens_token_hash")),
    )
    op.create_index("ix_scim_tokens_tenant_id", "scim_tokens", ["tenant_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("employee_number", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("division", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("organization", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("cost_center", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("manager_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_manager_id_users"),
            "users",
            ["manager_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _restore_expression_indexes()
    op.create_index("ix_users_manager_id", "users", ["manager_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_manager_id", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        if op.get_context().dialect.name != "sqlite":
            batch_op.drop_constraint(batch_op.f("fk_users_manager_id_users"), type_="foreignkey")
        batch_op.drop_column("manager_id")
        batch_op.drop_column("cost_center")
        batch_op.drop_column("organization")
        batch_op.drop_column("division")
        batch_op.drop_column("employee_number")
    _restore_expression_indexes()

    op.drop_index("ix_scim_tokens_tenant_id", table_name="scim_tokens")
    op.drop_table("scim_tokens")
