"""credential lifecycle: expiry dates, and an OAuth client's previous secret during rotation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00

Every credential may carry an ``expires_at`` (unset: it never expires). Rotating an OAuth
client's secret keeps the HMAC of the secret it replaces in ``previous_secret_hash``,
accepted until ``previous_secret_expires_at``. Existing rows keep working as they did: all
new columns are nullable and start empty.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, rosterd.models.base.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(_timestamp("previous_secret_expires_at"))
        batch_op.add_column(_timestamp("expires_at"))
    for table in ("scim_tokens", "api_keys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_timestamp("expires_at"))


def downgrade() -> None:
    for table in ("api_keys", "scim_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("expires_at")
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_hash")
