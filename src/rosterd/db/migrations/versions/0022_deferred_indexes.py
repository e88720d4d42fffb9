"""deferred indexes: where a bulk load on SQLite notes the indexes it drops until it ends

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28 07:30:00

``rosterd import`` of a large file into SQLite drops the non-unique indexes of users and
group_memberships while it loads and builds them once at the end (rosterd.repositories.
deferred_indexes); each dropped index's statement is kept here, in the dropping transaction,
so a load killed half-way cannot lose one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deferred_indexes",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ddl", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deferred_indexes")),
    )


def downgrade() -> None:
    op.drop_table("deferred_indexes")
