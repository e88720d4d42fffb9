"""Signing keys: the SQL behind rosterd.services.signing_keys.

Reads used by the key ring never select the sealed private half; only ``sealed_private_key``
does, when a node first signs with a key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy.orm import Session

from rosterd.models import SigningKey, Tenant

# Everything about a key except its private half.
_PUBLIC = (
    SigningKey.kid,
    SigningKey.tenant_id,
    SigningKey.public_jwk,
    SigningKey.created_at,
    SigningKey.retired_at,
)

PublicRow: TypeAlias = "Row[str, uuid.UUID | None, dict[str, Any], datetime, datetime | None]"


def _still_trusted(retired_after: datetime) -> Any:
    return or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > retired_after)


def trusted(session: Session, retired_after: datetime) -> Sequence[PublicRow]:
    """Every key that signs or was retired after ``retired_after``, of every tenant."""
    return session.execute(select(*_PUBLIC).where(_still_trusted(retired_after))).all()


def trusted_of_tenant(
    session: Session, tenant_id: uuid.UUID | None, retired_after: datetime
) -> Sequence[PublicRow]:
    """One tenant's trusted keys; ``tenant_id`` None: the legacy keys of the deployment."""
    owner = (
        SigningKey.tenant_id.is_(None) if tenant_id is None else SigningKey.tenant_id == tenant_id
    )
    return session.execute(select(*_PUBLIC).where(owner, _still_trusted(retired_after))).all()


def owner_of(session: Session, kid: str) -> tuple[bool, uuid.UUID | None]:
    """Whether a key has this kid, and the tenant it belongs to."""
    row = session.execute(select(SigningKey.tenant_id).where(SigningKey.kid == kid)).first()
    return (False, None) if row is None else (True, row.tenant_id)


def sealed_private_key(session: Session, kid: str) -> bytes | None:
    return session.scalar(select(SigningKey.private_key_sealed).where(SigningKey.kid == kid))


def for_listing(session: Session, tenant_id: uuid.UUID) -> Sequence[PublicRow]:
    """A tenant's keys and the legacy keys, newest first."""
    return session.execute(
        select(*_PUBLIC)
        .where(or_(SigningKey.tenant_id == tenant_id, SigningKey.tenant_id.is_(None)))
        .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
    ).all()


def add(session: Session, key: SigningKey) -> None:
    session.add(key)
    session.flush()


def lock_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Serialise rotations of one tenant (PostgreSQL; SQLite has one writer anyway)."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update(key_share=True))


def retire_signing(session: Session, tenant_id: uuid.UUID, when: datetime) -> list[str]:
    """Retire the tenant's keys that sign; returns their kids."""
    return list(
        session.scalars(
            update(SigningKey)
            .where(SigningKey.tenant_id == tenant_id, SigningKey.retired_at.is_(None))
            .values(retired_at=when)
            .returning(SigningKey.kid)
        )
    )


def purge_retired(session: Session, tenant_id: uuid.UUID, retired_before: datetime) -> list[str]:
    """Delete the tenant's keys, and legacy keys, retired before ``retired_before``."""
    return list(
        session.scalars(
            delete(SigningKey)
            .where(
                or_(SigningKey.tenant_id == tenant_id, SigningKey.tenant_id.is_(None)),
                SigningKey.retired_at < retired_before,
            )
            .returning(SigningKey.kid)
        )
    )
