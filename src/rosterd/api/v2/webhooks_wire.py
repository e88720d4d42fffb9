"""Wire schemas of /integration/v2/webhooks (an extension)."""

from __future__ import annotations

from pydantic import Field

from rosterd.api.v2.schemas import RequestModel, WireModel, iso_timestamp
from rosterd.events.webhook_urls import MAX_URL_LENGTH
from rosterd.models import Webhook, WebhookDelivery

_TYPES = (
    "Event types to send (see GET /integration/v2/events for the list); absent or null: every type."
)
_EXCLUDE = (
    "Leave out the events the OAuth client that created the webhook caused itself (its "
    "own writes echoed back)."
)


class WebhookIn(RequestModel):
    url: str = Field(
        max_length=MAX_URL_LENGTH,
        description="Where deliveries are POSTed: an http(s) URL whose host is public, unless "
        "the server allows private ones (ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS).",
    )
    eventTypes: list[str] | None = Field(default=None, max_length=200, description=_TYPES)
    enabled: bool = Field(default=True, description="Whether events are sent.")
    excludeOwnEvents: bool = Field(default=False, description=_EXCLUDE)


class WebhookPatch(RequestModel):
    url: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    eventTypes: list[str] | None = Field(
        default=None, max_length=200, description=_TYPES + " Absent: unchanged."
    )
    enabled: bool | None = Field(
        default=None,
        description="false stops sending; true resumes it (a webhook disabled after failed "
        "deliveries is sent what it missed meanwhile).",
    )
    excludeOwnEvents: bool | None = None


class WebhookOut(WireModel):
    id: str
    url: str
    eventTypes: list[str] | None = Field(description="null: every type.")
    enabled: bool
    excludeOwnEvents: bool
    createdBy: str = Field(description="The credential that created it (client:<client id>).")
    disabledReason: str | None = Field(
        description="Why rosterd disabled it (a delivery whose retries ran out), if it did."
    )
    createdAt: str | None
    updatedAt: str | None

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        return cls(
            id=str(hook.id),
            url=hook.url,
            eventTypes=hook.event_types,
            enabled=hook.enabled,
            excludeOwnEvents=hook.exclude_own_events,
            createdBy=hook.created_by,
            disabledReason=hook.disabled_reason,
            createdAt=iso_timestamp(hook.created_at),
            updatedAt=iso_timestamp(hook.updated_at),
        )


class WebhookWithSecret(WebhookOut):
    secret: str | None = Field(
        description="The signing secret (whsec_...), shown in this response only; verify "
        "deliveries with it (Standard Webhooks). A replay of this request by its "
        "Idempotency-Key answers null here."
    )


class WebhookList(WireModel):
    items: list[WebhookOut]


class DeliveryOut(WireModel):
    id: str
    webhookId: str
    eventId: str
    eventType: str
    status: str = Field(description="pending, succeeded or failed (retries ran out).")
    attempts: int
    responseCode: int | None = Field(description="The receiver's status of the last attempt.")
    lastError: str | None
    nextAttemptAt: str | None = Field(description="When it is tried next, while pending.")
    lastAttemptAt: str | None
    createdAt: str | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=str(d.id),
            webhookId=str(d.webhook_id),
            eventId=d.event_id,
            eventType=d.event_type,
            status=d.status,
            attempts=d.attempts,
            responseCode=d.response_code,
            lastError=d.last_error,
            nextAttemptAt=iso_timestamp(d.next_attempt_at),
            lastAttemptAt=iso_timestamp(d.last_attempt_at),
            createdAt=iso_timestamp(d.created_at),
        )


class DeliveryPage(WireModel):
    items: list[DeliveryOut]
    nextCursor: str | None = Field(description="Pass as `cursor` for the next, older page.")
