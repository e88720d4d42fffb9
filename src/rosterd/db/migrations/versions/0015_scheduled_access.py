"""scheduled access: a user's validFrom, a membership's expiresAt, and the scheduler's indexes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 09:00:00

``users.valid_from``: the user is pending until then. ``group_memberships.expires_at``: the
membership is removed then. The scheduler finds its due work through partial indexes over
the rows that have a date (``status`` first, so "pending users whose validFrom has come" and
"users not yet inactive whose expiry has come" are ranges of them); they replace the index
on ``users.expires_at`` alone, whose range of passed expiries kept every user ever expired.

Columns are added in place (no batch rebuild): SQLite's ``users`` carries triggers that a
rebuild would drop.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, rosterd.models.base.UTCDateTime(timezone=True), nullable=True)


def _partial(name: str, table: str, columns: list[str], condition: str) -> None:
    where = sa.text(condition)
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    op.add_column("users", _timestamp("valid_from"))
    op.add_column("group_memberships", _timestamp("expires_at"))
    op.drop_index("ix_users_expires_at", table_name="users")
    _partial(
        "ix_users_status_valid_from", "users", ["status", "valid_from"], "valid_from IS NOT NULL"
    )
    _partial(
        "ix_users_status_expires_at", "users", ["status", "expires_at"], "expires_at IS NOT NULL"
    )
    _partial(
        "ix_group_memberships_expires_at",
        "group_memberships",
        ["expires_at"],
        "expires_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_group_memberships_expires_at", table_name="group_memberships")
    op.drop_index("ix_users_status_expires_at", table_name="users")
    op.drop_index("ix_users_status_valid_from", table_name="users")
    op.create_index("ix_users_expires_at", "users", ["expires_at"])
    op.drop_column("group_memberships", "expires_at")
    op.drop_column("users", "valid_from")
