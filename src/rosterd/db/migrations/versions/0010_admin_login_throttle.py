"""admin logins are throttled instead of locked

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00

Five failed logins used to lock an admin for 15 minutes, whoever sent them and from
wherever: anyone could lock any admin out. Failures are now counted by the login throttle
(rosterd.auth.login_guard), per username and client address, outside the database, so
``failed_attempts`` and ``locked_until`` go. ``throttle_epoch`` is part of every throttle key
of the account: ``rosterd admins unlock`` bumps it to lift them on every node.

On SQLite the batch ALTER rebuilds ``admin_users``, which would drop the ``lower(username)``
index (expression indexes cannot be reflected): it is dropped first and made again after.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import rosterd.models.base

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USERNAME_INDEX = "uq_admin_users_username"


def upgrade() -> None:
    op.drop_index(_USERNAME_INDEX, table_name="admin_users")
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(
            sa.Column("throttle_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.drop_column("locked_until")
        batch.drop_column("failed_attempts")
    op.create_index(_USERNAME_INDEX, "admin_users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index(_USERNAME_INDEX, table_name="admin_users")
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(
            sa.Column("failed_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(
            sa.Column("locked_until", rosterd.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.drop_column("throttle_epoch")
    with op.batch_alter_table("admin_users") as batch:
        batch.alter_column("failed_attempts", server_default=None)
    op.create_index(_USERNAME_INDEX, "admin_users", [sa.text("lower(username)")], unique=True)
