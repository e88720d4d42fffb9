"""sort indexes: keyset pages of the user list by name descending and by last sign-in

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 04:00:00

repositories/users._sort_terms orders every term in one direction (a nullable column led by
``IS NULL`` ascending, ``IS NOT NULL`` descending), so that a keyset page is one row-value
comparison and an index walk. Ascending name order has ix_users_tenant_sort_name (0007);
these serve descending name order (walked backwards) and last sign-in in both directions,
term for term, so that the console's list pages stay one index range at any depth.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_users_tenant_sort_name_desc": [
        "tenant_id",
        sa.text("(last_name_key IS NOT NULL)"),
        "last_name_key",
        sa.text("(first_name_key IS NOT NULL)"),
        "first_name_key",
        "id",
    ],
    "ix_users_tenant_sort_login": [
        "tenant_id",
        sa.text("(last_login_at IS NULL)"),
        "last_login_at",
        "id",
    ],
    "ix_users_tenant_sort_login_desc": [
        "tenant_id",
        sa.text("(last_login_at IS NOT NULL)"),
        "last_login_at",
        "id",
    ],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "users", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="users")
