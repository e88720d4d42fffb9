"""import journal: the lines of an import file each committed batch covered

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 09:00:00

One row per committed batch of ``rosterd import``, written in the batch's own transaction and
keyed by (tenant, import id = sha256 of the file, first line), so a re-run after a crash goes
on after the last line a committed batch covered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_journal",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("first_line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("done_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_import_journal_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "import_id", "first_line", name=op.f("pk_import_journal")
        ),
    )


def downgrade() -> None:
    op.drop_table("import_journal")
