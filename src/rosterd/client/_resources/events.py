"""``client.events``: the CloudEvents feed at /integration/v2/events (scope ``audit:read``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from rosterd.client._call import V2, Call, Paged, items_of, model, query
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import Event, EventPage

PATH = f"{V2}/events"


def _params(
    after: str | None, types: Iterable[str] | None, limit: int, wait: float | None
) -> dict[str, Any]:
    return query(after=after, types=",".join(types) if types else None, limit=limit, wait=wait)


def _read(
    after: str | None, types: Iterable[str] | None, limit: int, wait: float
) -> Call[EventPage]:
    return Call("GET", PATH, model(EventPage), params=_params(after, types, limit, wait or None))


def _next(page: Any) -> Mapping[str, Any] | None:
    return {"after": page["cursor"]} if page.get("hasMore") else None


def _iterate(after: str | None, types: Iterable[str] | None, limit: int) -> Paged[Event]:
    return Paged(PATH, _params(after, types, limit, None), items_of(Event, "events"), _next)


class Events:
    """``client.events``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def read(
        self,
        *,
        after: str | None = None,
        types: Iterable[str] | None = None,
        limit: int = 100,
        wait: float = 0,
    ) -> EventPage:
        """One page of events after the cursor ``after`` (from the start when None);
        ``wait`` seconds (at most 30) to long-poll when none is ready. Keep the page's
        ``cursor`` to read on from it.

        Example::

            page = client.events.read(after=saved_cursor, types=["user.created"], wait=25)
            for event in page.events:
                handle(event)
            saved_cursor = page.cursor
        """
        return self._t.run(_read(after, types, limit, wait))

    def iterate(
        self, *, after: str | None = None, types: Iterable[str] | None = None, limit: int = 100
    ) -> Iterator[Event]:
        """Every event after the cursor ``after`` up to the newest, a page at a time.

        Example::

            for event in client.events.iterate(types=["user.deactivated"]):
                print(event.subject)
        """
        return self._t.pages(_iterate(after, types, limit))


class AsyncEvents:
    """``client.events`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def read(
        self,
        *,
        after: str | None = None,
        types: Iterable[str] | None = None,
        limit: int = 100,
        wait: float = 0,
    ) -> EventPage:
        """Example: ``page = await client.events.read(after=cursor, wait=25)``"""
        return await self._t.run(_read(after, types, limit, wait))

    def iterate(
        self, *, after: str | None = None, types: Iterable[str] | None = None, limit: int = 100
    ) -> AsyncIterator[Event]:
        """Example: ``async for event in client.events.iterate(): ...``"""
        return self._t.pages(_iterate(after, types, limit))
