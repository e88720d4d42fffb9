"""oauth retention indexes: the scheduler finds spent grants and refresh tokens by index

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-28 04:40:00

The scheduler deletes, tenant by tenant and a bounded batch at a time, refresh tokens past
their lifetime and grants revoked or whose code expired (services.oauth_grants.purge_spent);
these indexes let each batch be an index range rather than a walk of the tenant's rows.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_oauth_refresh_tokens_tenant_expires": ("oauth_refresh_tokens", ["tenant_id", "expires_at"]),
    "ix_oauth_grants_tenant_revoked": ("oauth_grants", ["tenant_id", "revoked_at"]),
    "ix_oauth_grants_tenant_code_expires": ("oauth_grants", ["tenant_id", "code_expires_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in _INDEXES.items():
        op.drop_index(name, table_name=table)
