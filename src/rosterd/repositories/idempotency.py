"""SQL of idempotency keys. Every statement is scoped to a tenant and a credential, except
the purge of expired rows, which is the scheduler's and spans tenants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rosterd.models.idempotency import IdempotencyKey, KeyState


@dataclass(frozen=True)
class Scope:
    """Whose key it is: a tenant's credential."""

    tenant_id: uuid.UUID
    actor: str
    key: str

    def where(self) -> tuple[Any, ...]:
        return (
            IdempotencyKey.tenant_id == self.tenant_id,
            IdempotencyKey.actor == self.actor,
            IdempotencyKey.key == self.key,
        )


def insert_claim(session: Session, scope: Scope, values: dict[str, Any]) -> bool:
    """Claim a key nobody holds: True if this inserted it, False if a row exists (another
    request's, in flight or done). The unique index decides between concurrent claims; on
    PostgreSQL a claim waits for a concurrent one to commit or roll back first."""
    row = {"tenant_id": scope.tenant_id, "actor": scope.actor, "key": scope.key, **values}
    row.setdefault("id", uuid.uuid4())
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(IdempotencyKey)
        .values(row)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.id)
    )
    return session.execute(stmt).first() is not None


def get(session: Session, scope: Scope) -> IdempotencyKey | None:
    return session.scalars(select(IdempotencyKey).where(*scope.where())).one_or_none()


def take_over(
    session: Session, scope: Scope, previous_owner: uuid.UUID, now: datetime, values: dict[str, Any]
) -> bool:
    """Claim a key whose row is dead: expired (not purged yet), or in flight past its lease
    (its request crashed). Conditional on the owner the caller saw, so of two retries taking
    over one dead claim only one does."""
    stmt = (
        update(IdempotencyKey)
        .where(
            *scope.where(),
            IdempotencyKey.owner == previous_owner,
            or_(
                IdempotencyKey.expires_at <= now,
                (IdempotencyKey.state == KeyState.in_flight) & (IdempotencyKey.lease_until <= now),
            ),
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def complete(
    session: Session,
    scope: Scope,
    owner: uuid.UUID,
    status_code: int,
    headers: list[list[str]],
    body: bytes,
) -> None:
    """Store the response of the claim ``owner`` holds (nothing if it lost the claim)."""
    session.execute(
        update(IdempotencyKey)
        .where(*scope.where(), IdempotencyKey.owner == owner)
        .values(
            state=KeyState.done,
            lease_until=None,
            status_code=status_code,
            response_headers=headers,
            response_body=body,
        )
        .execution_options(synchronize_session=False)
    )


def release(session: Session, scope: Scope, owner: uuid.UUID) -> None:
    """Give up the claim ``owner`` holds (its request failed): the key is free again."""
    session.execute(
        delete(IdempotencyKey)
        .where(*scope.where(), IdempotencyKey.owner == owner)
        .execution_options(synchronize_session=False)
    )


def purge_expired(session: Session, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired keys, oldest first; how many went."""
    batch = (
        select(IdempotencyKey.id)
        .where(IdempotencyKey.expires_at <= now)
        .order_by(IdempotencyKey.expires_at)
        .limit(limit)
    )
    ids = list(session.scalars(batch))
    if not ids:
        return 0
    result = session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id.in_(ids), IdempotencyKey.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
