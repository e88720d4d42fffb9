"""``client.webhooks``: /integration/v2/webhooks (scopes ``webhook:read``,
``webhook:write``). Deliveries are signed per Standard Webhooks: verify them with the
``standardwebhooks`` package and the secret ``create`` or ``rotate_secret`` returned."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Literal

from rosterd.client._call import (
    UNSET,
    V2,
    Call,
    Paged,
    Unset,
    body,
    by_cursor,
    items_of,
    model,
    nothing,
    query,
)
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import Webhook, WebhookDelivery

PATH = f"{V2}/webhooks"

DeliveryStatus = Literal["pending", "succeeded", "failed"]


def _types(event_types: Iterable[str] | Unset | None) -> builtins.list[str] | Unset | None:
    return event_types if event_types is None or isinstance(event_types, Unset) else [*event_types]


def _create(
    url: str, event_types: Iterable[str] | None, enabled: bool, exclude_own_events: bool
) -> Call[Webhook]:
    sent = body(
        url=url,
        event_types=_types(event_types),
        enabled=enabled,
        exclude_own_events=exclude_own_events,
    )
    return Call("POST", PATH, model(Webhook), json=sent)


def _update(
    webhook_id: str,
    url: str | Unset,
    event_types: Iterable[str] | Unset | None,
    enabled: bool | Unset,
    exclude_own_events: bool | Unset,
) -> Call[Webhook]:
    sent = body(
        url=url,
        event_types=_types(event_types),
        enabled=enabled,
        exclude_own_events=exclude_own_events,
    )
    return Call("PATCH", f"{PATH}/{webhook_id}", model(Webhook), json=sent)


def _list() -> Call[builtins.list[Webhook]]:
    return Call("GET", PATH, lambda r: items_of(Webhook)(r.json()))


def _get(webhook_id: str) -> Call[Webhook]:
    return Call("GET", f"{PATH}/{webhook_id}", model(Webhook))


def _delete(webhook_id: str) -> Call[None]:
    return Call("DELETE", f"{PATH}/{webhook_id}", nothing)


def _rotate(webhook_id: str) -> Call[Webhook]:
    return Call("POST", f"{PATH}/{webhook_id}/rotate-secret", model(Webhook))


def _test(webhook_id: str) -> Call[WebhookDelivery]:
    return Call("POST", f"{PATH}/{webhook_id}/test", model(WebhookDelivery))


def _deliveries(
    webhook_id: str, status: DeliveryStatus | None, page_size: int
) -> Paged[WebhookDelivery]:
    params = query(status=status, limit=page_size)
    return Paged(f"{PATH}/{webhook_id}/deliveries", params, items_of(WebhookDelivery), by_cursor)


def _retry(webhook_id: str, delivery_id: str) -> Call[WebhookDelivery]:
    path = f"{PATH}/{webhook_id}/deliveries/{delivery_id}/retry"
    return Call("POST", path, model(WebhookDelivery))


class Webhooks:
    """``client.webhooks``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(
        self,
        *,
        url: str,
        event_types: Iterable[str] | None = None,
        enabled: bool = True,
        exclude_own_events: bool = False,
    ) -> Webhook:
        """Subscribe ``url`` to the tenant's events (every type when ``event_types`` is
        None). The answer's ``secret`` (``whsec_…``) is shown this once: keep it to verify
        deliveries. ``exclude_own_events`` leaves out what this client's own writes caused.

        Example::

            hook = client.webhooks.create(
                url="https://hooks.example.com/rosterd", event_types=["user.deactivated"]
            )
            store_secret(hook.secret)
        """
        return self._t.run(_create(url, event_types, enabled, exclude_own_events))

    def list(self) -> builtins.list[Webhook]:
        """The tenant's webhooks (at most 100), oldest first, without secrets.

        Example: ``urls = [hook.url for hook in client.webhooks.list()]``
        """
        return self._t.run(_list())

    def get(self, webhook_id: str) -> Webhook:
        """Example: ``hook = client.webhooks.get(hook_id); print(hook.disabled_reason)``"""
        return self._t.run(_get(webhook_id))

    def update(
        self,
        webhook_id: str,
        *,
        url: str | Unset = UNSET,
        event_types: Iterable[str] | Unset | None = UNSET,
        enabled: bool | Unset = UNSET,
        exclude_own_events: bool | Unset = UNSET,
    ) -> Webhook:
        """Change what was given (``event_types=None``: every type). ``enabled=True`` on a
        webhook rosterd disabled sends it what it missed meanwhile.

        Example: ``client.webhooks.update(hook.id, enabled=False)``
        """
        return self._t.run(_update(webhook_id, url, event_types, enabled, exclude_own_events))

    def delete(self, webhook_id: str) -> None:
        """Example: ``client.webhooks.delete(hook.id)``"""
        self._t.run(_delete(webhook_id))

    def rotate_secret(self, webhook_id: str) -> Webhook:
        """A new signing secret, in the answer's ``secret`` (shown this once).

        Example: ``secret = client.webhooks.rotate_secret(hook.id).secret``
        """
        return self._t.run(_rotate(webhook_id))

    def test(self, webhook_id: str) -> WebhookDelivery:
        """Queue a ``webhook.test`` event to the webhook; the answer is its delivery.

        Example: ``delivery = client.webhooks.test(hook.id)``
        """
        return self._t.run(_test(webhook_id))

    def deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None = None, page_size: int = 50
    ) -> Iterator[WebhookDelivery]:
        """The delivery log, newest first, read by keyset cursor as the iteration goes.

        Example::

            for failed in client.webhooks.deliveries(hook.id, status="failed"):
                client.webhooks.retry(hook.id, failed.id)
        """
        return self._t.pages(_deliveries(webhook_id, status, page_size))

    def retry(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Make a delivery due now, its retries started over.

        Example: ``client.webhooks.retry(hook.id, delivery.id)``
        """
        return self._t.run(_retry(webhook_id, delivery_id))


class AsyncWebhooks:
    """``client.webhooks`` of an ``AsyncClient`` (the same calls; see ``Webhooks``)."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        url: str,
        event_types: Iterable[str] | None = None,
        enabled: bool = True,
        exclude_own_events: bool = False,
    ) -> Webhook:
        """Example: ``hook = await client.webhooks.create(url="https://hooks.example.com")``"""
        return await self._t.run(_create(url, event_types, enabled, exclude_own_events))

    async def list(self) -> builtins.list[Webhook]:
        """Example: ``hooks = await client.webhooks.list()``"""
        return await self._t.run(_list())

    async def get(self, webhook_id: str) -> Webhook:
        """Example: ``hook = await client.webhooks.get(hook_id)``"""
        return await self._t.run(_get(webhook_id))

    async def update(
        self,
        webhook_id: str,
        *,
        url: str | Unset = UNSET,
        event_types: Iterable[str] | Unset | None = UNSET,
        enabled: bool | Unset = UNSET,
        exclude_own_events: bool | Unset = UNSET,
    ) -> Webhook:
        """Example: ``await client.webhooks.update(hook.id, enabled=False)``"""
        return await self._t.run(_update(webhook_id, url, event_types, enabled, exclude_own_events))

    async def delete(self, webhook_id: str) -> None:
        """Example: ``await client.webhooks.delete(hook.id)``"""
        await self._t.run(_delete(webhook_id))

    async def rotate_secret(self, webhook_id: str) -> Webhook:
        """Example: ``secret = (await client.webhooks.rotate_secret(hook.id)).secret``"""
        return await self._t.run(_rotate(webhook_id))

    async def test(self, webhook_id: str) -> WebhookDelivery:
        """Example: ``delivery = await client.webhooks.test(hook.id)``"""
        return await self._t.run(_test(webhook_id))

    def deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None = None, page_size: int = 50
    ) -> AsyncIterator[WebhookDelivery]:
        """Example: ``async for d in client.webhooks.deliveries(hook.id): ...``"""
        return self._t.pages(_deliveries(webhook_id, status, page_size))

    async def retry(self, webhook_id: str, delivery_id: str) -> WebhookDelivery:
        """Example: ``await client.webhooks.retry(hook.id, delivery.id)``"""
        return await self._t.run(_retry(webhook_id, delivery_id))
