"""Webhooks: a tenant's subscriptions to its event feed, and the deliveries made for them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from rosterd.models.base import Base, utcnow


class Webhook(Base):
    """A subscription: where to send which of the tenant's events, signed with which secret.

    ``cursor_tx``/``cursor_id`` is how far through the event feed (rosterd.events.feed) the
    deliverer has turned events into deliveries; it moves in the transaction that inserts
    them, so an event becomes its delivery exactly once whatever crashes.
    The signing secret is kept only sealed (AES-GCM under the server secret,
    rosterd.auth.key_seal): the server must sign with it, so it cannot be a hash.
    """

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    # None: every event type.
    event_types: Mapped[list[str] | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Leave out events whose actor is ``created_by`` (the echo of the subscriber's own writes).
    exclude_own_events: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(255))
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    cursor_tx: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor_id: Mapped[int] = mapped_column(BigInteger, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_webhooks_tenant_created_at", "tenant_id", "created_at"),)


class WebhookDelivery(Base):
    """One event (or test message) for one webhook, and how sending it went.

    ``status``: ``pending`` (due at ``next_attempt_at``; while a node sends it, that is the
    end of its claim), ``succeeded`` or ``failed`` (retries ran out). ``due_since`` is when it
    last became due (made, or retried by hand): retries stop webhook_retry_hours after it.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    due_since: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("uq_webhook_deliveries_webhook_event", "webhook_id", "event_id", unique=True),
        # A webhook's delivery log, newest first (keyset by id).
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
        # What is due, across tenants: the deliverer's claim.
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        # The log's retention: the oldest first.
        Index("ix_webhook_deliveries_created_at", "created_at"),
        # Ids are never used again (SQLite would reuse those of deleted rows): with its
        # webhook's id, a delivery's id is the webhook-id header receivers dedupe by.
        {"sqlite_autoincrement": True},
    )
