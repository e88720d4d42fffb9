"""``client.audit``: /integration/v2/audit-events (scope ``audit:read``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

from rosterd.client._call import V2, Paged, by_cursor, items_of, query
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import AuditEvent

PATH = f"{V2}/audit-events"


def _list(
    resource_type: str | None,
    resource_id: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    page_size: int,
) -> Paged[AuditEvent]:
    params = query(
        resource_type=resource_type,
        resource_id=resource_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=page_size,
    )
    return Paged(PATH, params, items_of(AuditEvent), by_cursor)


class Audit:
    """``client.audit``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(
        self,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 100,
    ) -> Iterator[AuditEvent]:
        """Audit events matching the filters, newest first, read by keyset cursor as the
        iteration goes. ``since`` and ``until`` need a time zone.

        Example::

            for event in client.audit.list(resource_type="user", resource_id=user.id):
                print(event.occurred_at, event.action, event.actor)
        """
        return self._t.pages(
            _list(resource_type, resource_id, actor, action, since, until, page_size)
        )


class AsyncAudit:
    """``client.audit`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(
        self,
        *,
        resource_type: str | None = None,
        resource_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[AuditEvent]:
        """Example: ``async for event in client.audit.list(action="user.created"): ...``"""
        return self._t.pages(
            _list(resource_type, resource_id, actor, action, since, until, page_size)
        )
