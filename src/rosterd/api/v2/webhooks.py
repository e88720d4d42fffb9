"""/integration/v2/webhooks: subscriptions to the event feed, and their deliveries.

Scopes ``webhook:read`` and ``webhook:write``. A URL's host is resolved (to refuse private
addresses) before the write's unit of work starts, on a worker thread: name resolution
must not hold the database (SQLite's one writer) or the event loop.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import ReadSession, RuntimeDep, SearchSession, WriteSession, in_unit_of_work
from rosterd.api.idempotency import redact_from_replays
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import WebhookRead, WebhookWrite
from rosterd.api.v2.paging import MAX_LIMIT, errors
from rosterd.api.v2.webhooks_wire import (
    DeliveryOut,
    DeliveryPage,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
    WebhookWithSecret,
)
from rosterd.api.wire import Text
from rosterd.db.work import Kind
from rosterd.events import webhook_urls
from rosterd.runtime import Runtime
from rosterd.services import webhooks
from rosterd.services.webhooks import WithSecret

router = api_router(prefix="/webhooks", tags=["Webhooks"])

_SIGNING = (
    "Each delivery is a POST of one CloudEvent (JSON, as GET /integration/v2/events "
    "serves it) signed per Standard Webhooks: headers webhook-id (the same on every "
    "attempt), webhook-timestamp and webhook-signature; verify with the webhook's secret, "
    "e.g. `standardwebhooks.Webhook(secret).verify(body, headers)`. Any 2xx answer counts "
    "as delivered; anything else (or no answer within ROSTERD_WEBHOOK_TIMEOUT_SECONDS) is "
    "retried with exponential backoff for ROSTERD_WEBHOOK_RETRY_HOURS, after which the "
    "webhook is disabled and a webhook.disabled event is recorded."
)


def _with_secret(made: WithSecret) -> WebhookWithSecret:
    return WebhookWithSecret(**WebhookOut.of(made.webhook).model_dump(), secret=made.secret)


async def _check_url(runtime: Runtime, url: str) -> None:
    allow = runtime.settings.webhook_allow_private_urls
    await run_in_threadpool(webhook_urls.check, url, allow_private=allow)


@router.post(
    "",
    operation_id="createWebhook",
    summary="Create a Webhook (extension)",
    description="Subscribes `url` to the tenant's events from now on. The answer carries the "
    "signing secret, once. " + _SIGNING + " Scope `webhook:write`.",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookWithSecret,
    responses=errors(400, 401, 403, 409),
)
async def create_webhook(
    body: WebhookIn, actor: WebhookWrite, runtime: RuntimeDep, request: Request
) -> WebhookWithSecret:
    await _check_url(runtime, body.url)
    spec = webhooks.WebhookSpec(body.url, body.eventTypes, body.enabled, body.excludeOwnEvents)

    def create(session: Session) -> WebhookWithSecret:
        return _with_secret(webhooks.create(session, actor, spec, runtime.keys.sealer))

    made = await in_unit_of_work(runtime, Kind.WRITE, create)
    redact_from_replays(request, "secret")
    return made


@router.get(
    "",
    operation_id="listWebhooks",
    summary="List Webhooks (extension)",
    description="The tenant's webhooks (at most 100), oldest first, without their secrets. "
    "Scope `webhook:read`.",
    response_model=WebhookList,
    responses=errors(401, 403),
)
def list_webhooks(actor: WebhookRead, session: ReadSession) -> WebhookList:
    return WebhookList(items=[WebhookOut.of(h) for h in webhooks.list_webhooks(session, actor)])


@router.get(
    "/{webhookId}",
    operation_id="getWebhook",
    summary="Get a Webhook (extension)",
    description="Scope `webhook:read`. The secret is never shown again.",
    response_model=WebhookOut,
    responses=errors(400, 401, 403, 404),
)
def get_webhook(
    webhookId: uuid.UUID,  # noqa: N803
    actor: WebhookRead,
    session: ReadSession,
) -> WebhookOut:
    return WebhookOut.of(webhooks.get(session, actor, webhookId))


@router.patch(
    "/{webhookId}",
    operation_id="updateWebhook",
    summary="Update a Webhook (extension)",
    description="Changes the fields sent; `eventTypes: null` subscribes to every type. "
    "Scope `webhook:write`.",
    response_model=WebhookOut,
    responses=errors(400, 401, 403, 404),
)
async def update_webhook(
    webhookId: uuid.UUID,  # noqa: N803
    body: WebhookPatch,
    actor: WebhookWrite,
    runtime: RuntimeDep,
) -> WebhookOut:
    if body.url is not None:
        await _check_url(runtime, body.url)
    sent = body.model_fields_set
    change = webhooks.WebhookChange(
        url=body.url,
        enabled=body.enabled,
        exclude_own_events=body.excludeOwnEvents,
        **({"event_types": body.eventTypes} if "eventTypes" in sent else {}),
    )

    def update(session: Session) -> WebhookOut:
        return WebhookOut.of(webhooks.update(session, actor, webhookId, change))

    return await in_unit_of_work(runtime, Kind.WRITE, update)


@router.delete(
    "/{webhookId}",
    operation_id="deleteWebhook",
    summary="Delete a Webhook (extension)",
    description="Stops deliveries and forgets the webhook and its delivery log. "
    "Scope `webhook:write`.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404),
)
def delete_webhook(
    webhookId: uuid.UUID,  # noqa: N803
    actor: WebhookWrite,
    session: WriteSession,
) -> Response:
    webhooks.delete(session, actor, webhookId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{webhookId}/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate a Webhook's Secret (extension)",
    description="Makes a new signing secret, returned once in `secret`; deliveries sent from "
    "now on are signed with it only. Scope `webhook:write`.",
    response_model=WebhookWithSecret,
    responses=errors(400, 401, 403, 404),
)
def rotate_webhook_secret(
    webhookId: uuid.UUID,  # noqa: N803
    actor: WebhookWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    request: Request,
) -> WebhookWithSecret:
    redact_from_replays(request, "secret")
    return _with_secret(webhooks.rotate_secret(session, actor, webhookId, runtime.keys.sealer))


@router.post(
    "/{webhookId}/test",
    operation_id="testWebhook",
    summary="Send a Test Event (extension)",
    description="Queues a `webhook.test` event to the webhook, sent like any other; the "
    "answer is its delivery, to follow in the delivery log. 409 when the webhook is "
    "disabled. Scope `webhook:write`.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=errors(400, 401, 403, 404, 409),
)
def test_webhook(
    webhookId: uuid.UUID,  # noqa: N803
    actor: WebhookWrite,
    session: WriteSession,
) -> DeliveryOut:
    return DeliveryOut.of(webhooks.send_test(session, actor, webhookId))


@router.get(
    "/{webhookId}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="List a Webhook's Deliveries (extension)",
    description="The delivery log, newest first: status, attempts, the receiver's last "
    "response code, the next attempt. Keyset-paged: pass `nextCursor` as `cursor`. "
    "Scope `webhook:read`.",
    response_model=DeliveryPage,
    responses=errors(400, 401, 403, 404),
)
def list_webhook_deliveries(
    webhookId: uuid.UUID,  # noqa: N803
    actor: WebhookRead,
    session: SearchSession,
    status_: Annotated[
        Text | None,
        Query(alias="status", max_length=16, description="pending, succeeded or failed."),
    ] = None,
    cursor: Annotated[Text | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> DeliveryPage:
    page = webhooks.deliveries(
        session, actor, webhookId, status=status_, cursor=cursor, limit=limit
    )
    return DeliveryPage(
        items=[DeliveryOut.of(d) for d in page.deliveries], nextCursor=page.next_cursor
    )


@router.post(
    "/{webhookId}/deliveries/{deliveryId}/retry",
    operation_id="retryWebhookDelivery",
    summary="Retry a Delivery (extension)",
    description="Makes the delivery due now, whatever its status; its retries start over. "
    "Scope `webhook:write`.",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    responses=errors(400, 401, 403, 404),
)
def retry_webhook_delivery(
    webhookId: uuid.UUID,  # noqa: N803
    deliveryId: Annotated[int, Path(ge=1, lt=2**63)],  # noqa: N803
    actor: WebhookWrite,
    session: WriteSession,
) -> DeliveryOut:
    return DeliveryOut.of(webhooks.retry(session, actor, webhookId, deliveryId))
