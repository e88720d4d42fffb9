"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:33:47.847652
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("last_user_number", sa.Integer(), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("surface", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_audit_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_tenant_occurred_at", ["tenant_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_tenant_resource",
            ["tenant_id", "resource_type", "resource_id"],
            unique=False,
        )

    op.create_table(
        "groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["groups.id"],
            name=op.f("fk_groups_parent_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_groups_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_groups_tenant_external_id", ["tenant_id", "external_id"], unique=False
        )
        batch_op.create_index(
            "ix_groups_tenant_parent_id", ["tenant_id", "parent_id"], unique=False
        )
        batch_op.create_index(
            "uq_groups_tenant_name", ["tenant_id", sa.text("lower(name)")], unique=True
        )

    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_oauth_clients_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.create_index("ix_oauth_clients_tenant_id", ["tenant_id"], unique=False)

    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_roles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roles")),
    )
    op.create_index(
        "uq_roles_tenant_name", "roles", ["tenant_id", sa.text("lower(name)")], unique=True
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_teams_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index("ix_teams_manager_id", ["manager_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("department", sa.String(length=255), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
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
        sa.Column("role_id", sa.Uuid(), nullable=True),
        sa.Column("team_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("last_login_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_users_role_id_roles"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_users_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_role_id", ["role_id"], unique=False)
        batch_op.create_index("ix_users_team_id", ["team_id"], unique=False)
        batch_op.create_index(
            "ix_users_tenant_created_at", ["tenant_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_users_tenant_external_id", ["tenant_id", "external_id"], unique=False
        )
        batch_op.create_index(
            "ix_users_tenant_last_login_at", ["tenant_id", "last_login_at"], unique=False
        )
        batch_op.create_index(
            "ix_users_tenant_name", ["tenant_id", "last_name", "first_name"], unique=False
        )
        batch_op.create_index(
            "ix_users_tenant_status_name",
            ["tenant_id", "status", "last_name", "first_name"],
            unique=False,
        )
        batch_op.create_index("uq_users_tenant_number", ["tenant_id", "number"], unique=True)
        batch_op.create_index(
            "uq_users_tenant_username", ["tenant_id", sa.text("lower(username)")], unique=True
        )
        batch_op.create_index(
            "uq_users_tenant_email", ["tenant_id", sa.text("lower(email)")], unique=True
        )
    # teams.manager_id and users.team_id point at each other: add this one once users exists.
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_teams_manager_id_users"), "users", ["manager_id"], ["id"], ondelete="SET NULL"
        )
    # Only after that batch: on SQLite it rebuilds teams and would drop this expression index,
    # which it cannot reflect.
    op.create_index(
        "uq_teams_tenant_name", "teams", ["tenant_id", sa.text("lower(name)")], unique=True
    )

    op.create_table(
        "group_memberships",
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_memberships_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_group_memberships_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_memberships")),
    )
    with op.batch_alter_table("group_memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_group_memberships_user_group", ["user_id", "group_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("group_memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_group_memberships_user_group")

    op.drop_table("group_memberships")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("uq_users_tenant_number")
        batch_op.drop_index("ix_users_tenant_status_name")
        batch_op.drop_index("ix_users_tenant_name")
        batch_op.drop_index("ix_users_tenant_last_login_at")
        batch_op.drop_index("ix_users_tenant_external_id")
        batch_op.drop_index("ix_users_tenant_created_at")
        batch_op.drop_index("ix_users_team_id")
        batch_op.drop_index("ix_users_role_id")

    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_teams_manager_id_users"), type_="foreignkey")
    op.drop_table("users")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index("ix_teams_manager_id")

    op.drop_table("teams")
    op.drop_table("roles")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_clients_tenant_id")

    op.drop_table("oauth_clients")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_tenant_parent_id")
        batch_op.drop_index("ix_groups_tenant_external_id")

    op.drop_table("groups")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_resource")
        batch_op.drop_index("ix_audit_events_tenant_occurred_at")

    op.drop_table("audit_events")
    op.drop_table("tenants")
    op.drop_table("signing_keys")
