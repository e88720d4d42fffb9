"""signing keys per tenant, private halves sealed, public halves in clear, rotation

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 12:00:00

Until now one RSA key, stored as a plaintext PEM, signed every tenant's tokens. From here
each tenant has keys of its own (``tenant_id``), made when it first signs; the public half
is kept in clear as a JWK (``public_jwk``), the private half only sealed with a key derived
from the server secret (``private_key_sealed``, see rosterd.auth.key_seal); ``retired_at``
says when a rotation stopped a key signing.

The migration cannot seal (it has no server secret), and a plaintext private key must not
stay in the store: each existing key keeps only its public half, as a *legacy* key of the
whole deployment (no tenant) retired now. It goes on verifying the tokens it signed before
the upgrade until the longest token lifetime (plus the key-ring refresh interval) has
passed, then it stops verifying and the next rotation deletes it. Tenants get new keys of
their own when they next sign.

The plaintext is blanked before its column is dropped, and on SQLite ``secure_delete`` is on
while this runs, so the freed pages are zeroed rather than left holding the old key.

Downgrading cannot give 0007 a plaintext private key back: it deletes every signing key
(0007 makes a new one at start) so tokens signed since the upgrade stop verifying.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import rosterd.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_keys = sa.table(
    "signing_keys",
    sa.column("kid", sa.String),
    sa.column("private_key_pem", sa.Text),
    sa.column("public_jwk", sa.JSON),
    sa.column("retired_at", rosterd.models.base.UTCDateTime(timezone=True)),
)


def _public_jwk(pem: str) -> dict[str, str]:
    private = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    jwk: dict[str, str] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return jwk


def _secure_delete(on: bool) -> bool:
    """On SQLite, whether freed pages are zeroed (``on``); returns the previous setting."""
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return False
    was = bool(conn.exec_driver_sql("PRAGMA secure_delete").scalar_one())
    conn.exec_driver_sql(f"PRAGMA secure_delete = {int(on)}")
    return was


def upgrade() -> None:
    was = _secure_delete(True)
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(sa.Column("tenant_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("public_jwk", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("private_key_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("retired_at", rosterd.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    conn = op.get_bind()
    now = datetime.now(UTC)
    for kid, pem in conn.execute(sa.select(_keys.c.kid, _keys.c.private_key_pem)).all():
        conn.execute(
            _keys.update()
            .where(_keys.c.kid == kid)
            .values(public_jwk=_public_jwk(pem), retired_at=now, private_key_pem="")
        )

    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("public_jwk", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("private_key_pem")
        batch.create_foreign_key(
            op.f("fk_signing_keys_tenant_id_tenants"),
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(op.f("ix_signing_keys_tenant_id"), ["tenant_id"], unique=False)
    _secure_delete(was)


def downgrade() -> None:
    was = _secure_delete(True)
    op.execute(_keys.delete())
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_index(op.f("ix_signing_keys_tenant_id"))
        batch.drop_constraint(op.f("fk_signing_keys_tenant_id_tenants"), type_="foreignkey")
        batch.drop_column("retired_at")
        batch.drop_column("private_key_sealed")
        batch.drop_column("public_jwk")
        batch.drop_column("tenant_id")
        batch.add_column(sa.Column("private_key_pem", sa.Text(), nullable=False))
    _secure_delete(was)
