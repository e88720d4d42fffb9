"""/integration/v2/events: the event feed, CloudEvents in commit order (an extension)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Query, Response

from rosterd.api.deps import RuntimeDep
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import AuditRead
from rosterd.api.v2.paging import errors
from rosterd.api.v2.schemas import EventPage
from rosterd.api.wire import Text
from rosterd.db.work import KIND, Kind
from rosterd.events import feed
from rosterd.events.types import ALL_TYPES

router = api_router(prefix="/events", tags=["Events"])


@router.get(
    "",
    operation_id="listEvents",
    summary="Read the event feed (extension)",
    description="Every change in the token's tenant as a CloudEvents 1.0 event (JSON), in "
    "commit order. Pass the `cursor` of a page as `after` to read on from it: a cursor never "
    "skips an event, even one a slower concurrent transaction committed later, and "
    "reading again from a cursor gives the same events. `wait` (seconds, at most 30) "
    "holds the request open until an event arrives (a long poll). A page holds the "
    "events of up to `limit` changes; a change of several memberships is one event per "
    "membership, so a page may hold more events than `limit`. `hasMore` says the next "
    "read has events ready. Needs the `audit:read` scope. Types: "
    + ", ".join(sorted(ALL_TYPES))
    + ".",
    response_model=EventPage,
    responses=errors(400, 401, 403),
)
async def list_events(
    actor: AuditRead,
    runtime: RuntimeDep,
    after: Annotated[
        Text | None,
        Query(max_length=64, description="`cursor` of the previous page; absent: from the start."),
    ] = None,
    types: Annotated[
        Text | None,
        Query(max_length=2000, description="Comma-separated event types; absent: all."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=feed.MAX_LIMIT, description="Changes per page (at most 1000).")
    ] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=feed.MAX_WAIT_SECONDS,
            description="Seconds to wait for an event when none is ready (at most 30).",
        ),
    ] = 0,
) -> Response:
    start = feed.Cursor.decode(after)
    wanted = feed.parse_types(types)

    async def read_after(cursor: feed.Cursor) -> feed.FeedPage:
        # A session of its own for each read: a long poll holds no connection between reads.
        session = runtime.db.reader()
        session.info[KIND] = Kind.SLOW_READ
        try:
            page: feed.FeedPage = await runtime.work.run(
                Kind.SLOW_READ,
                [session],
                lambda: feed.read(session, actor, cursor, wanted, limit),
            )
        finally:
            session.close()
        return page

    page = await feed.wait_for(read_after, start, wait)
    return Response(orjson.dumps(page.wire()), media_type="application/json")
