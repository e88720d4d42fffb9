"""OAuth authorization code flow: client grants, redirect URIs, public clients, grants
(consents with their one authorization code) and rotating refresh tokens

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 09:00:00

Existing clients keep working as they did: they may use client_credentials only and have no
redirect URIs. A public client has no secret, so ``secret_hash`` becomes nullable. An
admin's ``scopes`` (None: every scope) bounds what they may grant an app. Codes and refresh
tokens are kept only as HMACs, like every other token.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USERNAME_INDEX = "uq_admin_users_username"


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, rosterd.models.base.UTCDateTime(timezone=True), nullable=nullable)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.alter_column("secret_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(
            sa.Column(
                "grant_types",
                sa.JSON(),
                server_default='["client_credentials"]',
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("redirect_uris", sa.JSON(), server_default="[]", nullable=False)
        )
    # A plain ADD COLUMN on both databases: a batch copy on SQLite would lose the
    # expression index on lower(username).
    op.add_column("admin_users", sa.Column("scopes", sa.JSON(), nullable=True))

    op.create_table(
        "oauth_grants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("client_row_id", sa.Uuid(), nullable=False),
        sa.Column("admin_id", sa.Uuid(), nullable=False),
        sa.Column("admin_token_epoch", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        _timestamp("code_expires_at"),
        _timestamp("code_used_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("revoked_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["admin_users.id"],
            name=op.f("fk_oauth_grants_admin_id_admin_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_row_id"],
            ["oauth_clients.id"],
            name=op.f("fk_oauth_grants_client_row_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        _tenant_fk("oauth_grants"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_grants")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_grants_code_hash")),
    )
    op.create_index("ix_oauth_grants_tenant_id", "oauth_grants", ["tenant_id"])
    op.create_index("ix_oauth_grants_client_row_id", "oauth_grants", ["client_row_id"])
    op.create_index("ix_oauth_grants_admin_id", "oauth_grants", ["admin_id"])

    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["oauth_grants.id"],
            name=op.f("fk_oauth_refresh_tokens_grant_id_oauth_grants"),
            ondelete="CASCADE",
        ),
        _tenant_fk("oauth_refresh_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_oauth_refresh_tokens_token_hash")),
    )
    op.create_index("ix_oauth_refresh_tokens_grant_id", "oauth_refresh_tokens", ["grant_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_refresh_tokens_grant_id", table_name="oauth_refresh_tokens")
    op.drop_table("oauth_refresh_tokens")
    for index in (
        "ix_oauth_grants_admin_id",
        "ix_oauth_grants_client_row_id",
        "ix_oauth_grants_tenant_id",
    ):
        op.drop_index(index, table_name="oauth_grants")
    op.drop_table("oauth_grants")
    op.drop_index(_USERNAME_INDEX, table_name="admin_users")
    with op.batch_alter_table("admin_users", schema=None) as batch_op:
        batch_op.drop_column("scopes")
    op.create_index(_USERNAME_INDEX, "admin_users", [sa.text("lower(username)")], unique=True)
    op.execute("DELETE FROM oauth_clients WHERE secret_hash IS NULL")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("redirect_uris")
        batch_op.drop_column("grant_types")
        batch_op.alter_column("secret_hash", existing_type=sa.String(length=64), nullable=False)
