"""The event feed: a tenant's audit rows, in commit order, as CloudEvents.

The audit row IS the outbox: every change records one in its own transaction
(``rosterd.services.audit.record``), so an event exists exactly when its change committed.

Reading "everything after my cursor" must never skip an event, and a row id alone is no
such cursor on PostgreSQL. Ids come from a sequence when a row is inserted, but concurrent
transactions commit in another order: transaction A takes id 10, B takes 11 and commits
first; a reader then sees 11 and moves its cursor past it, and 10, committed a moment later
by the slower A, is never returned. So each row also stores the id of the transaction that
wrote it (``tx``, filled by PostgreSQL's ``txid_current()`` in the INSERT itself), and the
feed returns only rows of transactions below the ``xmin`` of the reading statement's
snapshot: every transaction with a smaller id has ended, committed or not, so no row with a
smaller ``tx`` can appear later. Ordered by (tx, id), the feed is then a sequence that only
grows at its end: re-reading from any cursor gives the same events, and the cursor is that
(tx, id) pair. The price is latency, not loss: a transaction held open anywhere on the
PostgreSQL server holds the feed back until it ends.

SQLite has one writer at a time (a write transaction holds the database's write lock from
its first write to its commit), so ids are handed out in commit order and the id is the
order (``tx`` stays NULL; the cursor carries 0 for it). AUTOINCREMENT keeps ids from being
reused once the newest rows are deleted.

A row may be several events (a change of several memberships: rosterd.events.types); they
are returned together, so the cursor always points between rows.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from rosterd.events import types as event_types
from rosterd.events.cloudevents import events_of
from rosterd.repositories import audit as audit_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound, invalid_field

MAX_LIMIT = 1000
MAX_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Cursor:
    """A position in the feed: after the row (tx, id)."""

    tx: int = 0
    id: int = 0

    def encode(self) -> str:
        raw = f"{self.tx}.{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        """The cursor a client sent back; None is the start of the feed. 400 if not ours."""
        if text is None:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
            tx, id_ = raw.split(".")
            if not (tx.isdigit() and id_.isdigit() and max(int(tx), int(id_)) < 2**63):
                raise ValueError(raw)
            return cls(int(tx), int(id_))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise invalid_field("after", "not a cursor this feed returned") from None


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    cursor: Cursor
    more: bool  # rows past the cursor were left for the next read

    def wire(self) -> dict[str, Any]:
        return {"events": self.events, "cursor": self.cursor.encode(), "hasMore": self.more}


def parse_types(text: str | None) -> frozenset[str] | None:
    """The comma-separated event types a client wants; None for all. 400 for unknown ones."""
    if text is None or not text.strip():
        return None
    wanted = frozenset(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(wanted - event_types.ALL_TYPES)
    if unknown:
        raise invalid_field(
            "types",
            f"unknown event type(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(event_types.ALL_TYPES))}",
        )
    return wanted


def read(
    session: Session, actor: Actor, after: Cursor, types: frozenset[str] | None, limit: int
) -> FeedPage:
    """Up to ``limit`` rows' events past ``after``, of ``types`` (all when None)."""
    return read_tenant(session, actor.tenant_id, after, types, limit)


def read_tenant(
    session: Session,
    tenant_id: uuid.UUID,
    after: Cursor,
    types: frozenset[str] | None,
    limit: int,
) -> FeedPage:
    """``read`` for a tenant named by id: what the API serves, and webhooks deliver."""
    tenant = tenants_repo.get(session, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    source = f"/tenants/{tenant.slug}"
    actions = None if types is None else event_types.actions_for(types)
    rows = audit_repo.feed_after(
        session, tenant_id, (after.tx, after.id), actions=actions, limit=limit
    )
    events = [event for row in rows for event in events_of(row, source)]
    if types is not None:
        events = [event for event in events if event["type"] in types]
    cursor = Cursor(rows[-1].tx or 0, rows[-1].id) if rows else after
    return FeedPage(events=events, cursor=cursor, more=len(rows) == limit)


async def wait_for(
    read_after: Callable[[Cursor], Awaitable[FeedPage]],
    after: Cursor,
    wait_seconds: float,
    *,
    poll_seconds: float = POLL_SECONDS,
) -> FeedPage:
    """The first page past ``after`` that has events, reading again every ``poll_seconds``
    for up to ``wait_seconds`` (a long poll); the last page read when the wait runs out.

    It sleeps on the event loop between reads, holding no thread and no connection.
    Reading moves the cursor even when no event of the wanted types came (the rows read were
    of other types), so a long wait never reads the same rows twice.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        page = await read_after(after)
        left = deadline - time.monotonic()
        if page.events or left <= 0:
            return page
        after = page.cursor
        if not page.more:
            await asyncio.sleep(min(poll_seconds, left))
