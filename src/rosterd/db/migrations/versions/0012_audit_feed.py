"""the audit trail is readable, and the outbox of the event feed

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00

``tx`` is the id of the transaction that wrote the event, filled by PostgreSQL itself
(``txid_current()`` as the column's default, so the INSERT stays one plain statement); the
event feed orders by it (rosterd.events.feed explains why). SQLite leaves it NULL: its one
writer commits in id order. SQLite's ``audit_events`` is rebuilt with AUTOINCREMENT so an
id is never handed out twice, even once the newest events are gone.

The indexes serve the audit API's newest-first keyset pages (all of a tenant's events, one
resource's, one actor's) and, on PostgreSQL, the feed's (tenant, tx, id) order.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESOURCE = "ix_audit_events_tenant_resource"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    postgresql = _postgresql()
    default = sa.text("txid_current()") if postgresql else None
    table_kwargs = {} if postgresql else {"sqlite_autoincrement": True}
    with op.batch_alter_table(
        "audit_events", recreate="auto" if postgresql else "always", table_kwargs=table_kwargs
    ) as batch:
        batch.add_column(sa.Column("tx", sa.BigInteger(), server_default=default, nullable=True))
        batch.drop_index(_RESOURCE)
        batch.create_index(_RESOURCE, ["tenant_id", "resource_type", "resource_id", "id"])
        batch.create_index("ix_audit_events_tenant_id", ["tenant_id", "id"])
        batch.create_index("ix_audit_events_tenant_actor", ["tenant_id", "actor", "id"])
    if postgresql:
        # Events from before the feed existed come first in it, in id order.
        op.execute("UPDATE audit_events SET tx = 0")
        op.create_index("ix_audit_events_tenant_tx", "audit_events", ["tenant_id", "tx", "id"])


def downgrade() -> None:
    postgresql = _postgresql()
    if postgresql:
        op.drop_index("ix_audit_events_tenant_tx", table_name="audit_events")
    with op.batch_alter_table(
        "audit_events",
        recreate="auto" if postgresql else "always",
        table_kwargs={"sqlite_autoincrement": False},
    ) as batch:
        batch.drop_index("ix_audit_events_tenant_actor")
        batch.drop_index("ix_audit_events_tenant_id")
        batch.drop_index(_RESOURCE)
        batch.create_index(_RESOURCE, ["tenant_id", "resource_type", "resource_id"])
        batch.drop_column("tx")
