"""Indexes that serve sortBy=name pages

The plain (last_name, first_name) indexes could not serve the lower()-based, nulls-last
name order, so every name-sorted page sorted the whole tenant. These follow the ORDER BY
of repositories/users._order term for term.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SORT_NAME: list[str | sa.TextClause] = [
    sa.text("(lower(last_name) IS NULL)"),
    sa.text("lower(last_name)"),
    sa.text("(lower(first_name) IS NULL)"),
    sa.text("lower(first_name)"),
    "id",
]


def upgrade() -> None:
    op.drop_index("ix_users_tenant_status_name", table_name="users")
    op.drop_index("ix_users_tenant_name", table_name="users")
    op.create_index(
        "ix_users_tenant_status_sort_name", "users", ["tenant_id", "status", *_SORT_NAME]
    )
    op.create_index("ix_users_tenant_sort_name", "users", ["tenant_id", *_SORT_NAME])


def downgrade() -> None:
    op.drop_index("ix_users_tenant_sort_name", table_name="users")
    op.drop_index("ix_users_tenant_status_sort_name", table_name="users")
    op.create_index("ix_users_tenant_name", "users", ["tenant_id", "last_name", "first_name"])
    op.create_index(
        "ix_users_tenant_status_name", "users", ["tenant_id", "status", "last_name", "first_name"]
    )
