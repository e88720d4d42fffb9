"""Idempotency keys: the first answer to a POST sent with an ``Idempotency-Key``, kept so a
retry of the same request gets it again instead of running twice."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class KeyState(enum.StrEnum):
    # Claimed by a request still running (or by one that died: its lease then runs out).
    in_flight = "in_flight"
    # The request finished below 500; its response is stored for replays.
    done = "done"


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The credential that sent the key (Actor.actor: "client:<id>", "admin:<name>",
    # "api-key:<id>"): two clients of one tenant may use the same key.
    actor: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    # sha256 of the method, path, query and body: what "the same request" means.
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[KeyState] = mapped_column(
        Enum(KeyState, native_enum=False, create_constraint=True, length=16, name="state")
    )
    # Who holds an in-flight claim, so only its own request completes or releases it.
    owner: Mapped[uuid.UUID]
    # Until when an in-flight claim stands; past it, a retry may take the key over.
    lease_until: Mapped[datetime | None]
    status_code: Mapped[int | None]
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (
        Index("uq_idempotency_keys_tenant_actor_key", "tenant_id", "actor", "key", unique=True),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )
