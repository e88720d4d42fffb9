"""Webhooks: subscriptions to a tenant's event feed, managed through /integration/v2.

A webhook starts at the current end of the feed: it is sent the events of changes that
settle after it was made (on PostgreSQL that includes changes committed a moment before,
while a transaction open elsewhere held the feed back: at least once, never fewer).

Its signing secret is made here, returned once (to the creation or rotation call) and kept
only sealed. Each change to a webhook is audited (and so is an event itself); the secret is
never part of the record.

Whether a URL's host is private is decided by rosterd.events.webhook_urls; resolving it is
blocking I/O, so the routes check the URL before their unit of work starts.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rosterd.auth.key_seal import KeySealer
from rosterd.events import types as event_types
from rosterd.events import webhook_signing
from rosterd.events.cloudevents import CONTENT_TYPE, SPEC_VERSION
from rosterd.models import Webhook, WebhookDelivery
from rosterd.models.base import utcnow
from rosterd.repositories import audit as audit_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories import webhooks as repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, NotFound, invalid_field

MAX_WEBHOOKS = 100
TEST_TYPE = "webhook.test"
_UNSET: Any = object()


@dataclass(frozen=True)
class WebhookSpec:
    url: str
    event_types: list[str] | None
    enabled: bool
    exclude_own_events: bool


@dataclass(frozen=True)
class WebhookChange:
    """A PATCH: only what was sent (``None`` for event_types means every type)."""

    url: str | None = None
    event_types: list[str] | None = _UNSET
    enabled: bool | None = None
    exclude_own_events: bool | None = None


@dataclass(frozen=True)
class WithSecret:
    webhook: Webhook
    secret: str


def check_types(types: list[str] | None) -> list[str] | None:
    """The event types of a subscription, sorted and without repeats; None is every type.
    400 for an unknown type or an empty list (which would send nothing)."""
    if types is None:
        return None
    unknown = sorted(set(types) - event_types.ALL_TYPES)
    if unknown:
        raise invalid_field(
            "eventTypes",
            f"unknown event type(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(event_types.ALL_TYPES))}",
        )
    if not types:
        raise invalid_field("eventTypes", "must name at least one type (omit it for all)")
    return sorted(set(types))


def _snapshot(hook: Webhook) -> dict[str, Any]:
    return {
        "url": hook.url,
        "event_types": hook.event_types,
        "enabled": hook.enabled,
        "exclude_own_events": hook.exclude_own_events,
    }


def get(session: Session, actor: Actor, webhook_id: uuid.UUID, *, lock: bool = False) -> Webhook:
    hook = repo.get(session, actor.tenant_id, webhook_id, for_update=lock)
    if hook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return hook


def list_webhooks(session: Session, actor: Actor) -> list[Webhook]:
    return repo.list_for_tenant(session, actor.tenant_id, MAX_WEBHOOKS)


def create(session: Session, actor: Actor, spec: WebhookSpec, sealer: KeySealer) -> WithSecret:
    types = check_types(spec.event_types)
    # Lock the tenant row: concurrent creations count one after the other.
    repo.lock_tenant(session, actor.tenant_id)
    if repo.count_for_tenant(session, actor.tenant_id) >= MAX_WEBHOOKS:
        raise Conflict(f"a tenant may have at most {MAX_WEBHOOKS} webhooks")
    tx, id_ = audit_repo.feed_end(session, actor.tenant_id)
    secret = webhook_signing.new_secret()
    hook = Webhook(
        id=uuid.uuid4(),
        tenant_id=actor.tenant_id,
        url=spec.url,
        event_types=types,
        enabled=spec.enabled,
        exclude_own_events=spec.exclude_own_events,
        created_by=actor.actor,
        cursor_tx=tx,
        cursor_id=id_,
    )
    hook.secret_sealed = webhook_signing.seal(sealer, secret, hook.id, actor.tenant_id)
    session.add(hook)
    session.flush()
    audit.record(session, actor, "webhook.created", "webhook", hook.id, after=_snapshot(hook))
    return WithSecret(hook, secret)


def update(session: Session, actor: Actor, webhook_id: uuid.UUID, change: WebhookChange) -> Webhook:
    hook = get(session, actor, webhook_id, lock=True)
    before = _snapshot(hook)
    if change.url is not None:
        hook.url = change.url
    if change.event_types is not _UNSET:
        hook.event_types = check_types(change.event_types)
    if change.exclude_own_events is not None:
        hook.exclude_own_events = change.exclude_own_events
    if change.enabled is not None:
        hook.enabled = change.enabled
        if change.enabled:
            hook.disabled_reason = None
    after = _snapshot(hook)
    if after != before:
        hook.updated_at = utcnow()
        audit.record(
            session, actor, "webhook.updated", "webhook", hook.id, before=before, after=after
        )
    return hook


def delete(session: Session, actor: Actor, webhook_id: uuid.UUID) -> None:
    hook = get(session, actor, webhook_id, lock=True)
    before = _snapshot(hook)
    session.delete(hook)
    audit.record(session, actor, "webhook.deleted", "webhook", webhook_id, before=before)


def rotate_secret(
    session: Session, actor: Actor, webhook_id: uuid.UUID, sealer: KeySealer
) -> WithSecret:
    """A new secret: every delivery sent from now on is signed with it alone."""
    hook = get(session, actor, webhook_id, lock=True)
    secret = webhook_signing.new_secret()
    hook.secret_sealed = webhook_signing.seal(sealer, secret, hook.id, hook.tenant_id)
    hook.updated_at = utcnow()
    audit.record(session, actor, "webhook.secret_rotated", "webhook", hook.id)
    return WithSecret(hook, secret)


def send_test(session: Session, actor: Actor, webhook_id: uuid.UUID) -> WebhookDelivery:
    """A delivery of a ``webhook.test`` event (no change behind it), due now."""
    hook = get(session, actor, webhook_id, lock=True)
    if not hook.enabled:
        raise Conflict("the webhook is disabled; enable it to send to it")
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    now = utcnow()
    event_id = f"test-{uuid.uuid4()}"
    payload = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": f"/tenants/{tenant.slug}",
        "type": TEST_TYPE,
        "time": now.isoformat().replace("+00:00", "Z"),
        "subject": str(hook.id),
        "datacontenttype": CONTENT_TYPE,
        "data": {"webhookId": str(hook.id), "actor": actor.actor, "surface": actor.surface},
    }
    delivery = new_delivery(hook, event_id, TEST_TYPE, payload, now)
    repo.add_delivery(session, delivery)
    session.flush()
    audit.record(
        session, actor, "webhook.test_sent", "webhook", hook.id, after={"event_id": event_id}
    )
    return delivery


def new_delivery(
    hook: Webhook, event_id: str, event_type: str, payload: dict[str, Any], now: datetime
) -> WebhookDelivery:
    return WebhookDelivery(
        tenant_id=hook.tenant_id,
        webhook_id=hook.id,
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        status=repo.PENDING,
        attempts=0,
        next_attempt_at=now,
        due_since=now,
    )


# ---- the delivery log ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[WebhookDelivery]
    next_cursor: str | None


def _encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"d{before_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raw = ""
    if not (raw.startswith("d") and raw[1:].isdigit() and int(raw[1:]) < 2**63):
        raise invalid_field("cursor", "not a cursor this API returned")
    return int(raw[1:])


def deliveries(
    session: Session,
    actor: Actor,
    webhook_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> DeliveryPage:
    """One keyset page of a webhook's deliveries, newest first."""
    get(session, actor, webhook_id)
    if status is not None and status not in repo.STATUSES:
        raise invalid_field("status", f"one of {', '.join(repo.STATUSES)}")
    before_id = None if cursor is None else _decode(cursor)
    rows = repo.deliveries_page(
        session, actor.tenant_id, webhook_id, status=status, before_id=before_id, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(rows, _encode(rows[-1].id) if more else None)


def retry(
    session: Session, actor: Actor, webhook_id: uuid.UUID, delivery_id: int
) -> WebhookDelivery:
    """Make a delivery due now, whatever its state; its retries start over from now."""
    get(session, actor, webhook_id, lock=True)
    delivery = repo.get_delivery(session, actor.tenant_id, webhook_id, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
    before = {"delivery_id": delivery.id, "status": delivery.status}
    now = utcnow()
    delivery.status = repo.PENDING
    delivery.next_attempt_at = now
    delivery.due_since = now
    audit.record(
        session,
        actor,
        "webhook.delivery_retried",
        "webhook",
        webhook_id,
        before=before,
        after={"delivery_id": delivery.id, "status": delivery.status},
    )
    return delivery
