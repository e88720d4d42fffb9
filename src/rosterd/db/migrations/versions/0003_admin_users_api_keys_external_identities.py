"""admin users api keys external identities

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:06:15.780616
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("token_epoch", sa.Integer(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_admin_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_users")),
    )
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.create_index("ix_admin_users_tenant_id", ["tenant_id"], unique=False)
        batch_op.create_index("uq_admin_users_username", [sa.text("lower(username)")], unique=True)

    op.create_table(
        "api_keys",
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
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_keys_token_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_tenant_id", ["tenant_id"], unique=False)

    op.create_table(
        "external_identities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("identity", sa.String(length=255), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_external_identities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_external_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identities")),
    )
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.create_index("ix_external_identities_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "uq_external_identities_tenant_identity", ["tenant_id", "identity"], unique=True
        )

    # Plain ADD COLUMN and CREATE INDEX: no table rebuild, so the lower() indexes stay.
    op.add_column("users", sa.Column("identity_key", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("preferences", sa.JSON(), nullable=True))
    op.create_index("ix_users_expires_at", "users", ["expires_at"], unique=False)
    op.create_index(
        "uq_users_tenant_identity_key", "users", ["tenant_id", "identity_key"], unique=True
    )
    op.create_index("uq_users_tenant_phone", "users", ["tenant_id", "phone"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_users_tenant_phone", table_name="users")
    op.drop_index("uq_users_tenant_identity_key", table_name="users")
    op.drop_index("ix_users_expires_at", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("preferences")
        batch_op.drop_column("identity_key")
    # A SQLite batch rebuild drops the expression indexes it cannot reflect.
    for name, expression in (
        ("uq_users_tenant_username", "lower(username)"),
        ("uq_users_tenant_email", "lower(email)"),
    ):
        op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON users (tenant_id, {expression})")

    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.drop_index("uq_external_identities_tenant_identity")
        batch_op.drop_index("ix_external_identities_user_id")

    op.drop_table("external_identities")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_tenant_id")

    op.drop_table("api_keys")
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_index("uq_admin_users_username")
        batch_op.drop_index("ix_admin_users_tenant_id")

    op.drop_table("admin_users")
