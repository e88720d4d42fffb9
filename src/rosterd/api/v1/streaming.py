"""The unbounded lists of /api/v1 (a whole directory when no limit is given), as JSON arrays
built and sent a chunk at a time, so memory and bind parameters stay bounded at any size."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi.responses import Response, StreamingResponse
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from rosterd.db.engine import Database

CHUNK = 1000
# What FastAPI writes for an endpoint returning list[dict[str, Any]]; streamed or not, the
# bytes are the same.
_ITEMS = TypeAdapter(list[dict[str, Any]])

Key = TypeVar("Key")
Items = list[dict[str, Any]]
# (session, key of the last item read or None, offset, size) -> (items, key of the last one)
ReadChunk = Callable[[Session, Key | None, int, int], tuple[Items, Key | None]]


def json_items(items: Items) -> Response:
    """A whole list at once, as FastAPI would have written it."""
    return Response(_ITEMS.dump_json(items), media_type="application/json")


def json_list(
    db: Database, session: Session, read: ReadChunk[Key], *, offset: int, limit: int
) -> Response:
    """Up to ``limit`` items past the first ``offset``, read CHUNK at a time.

    The first chunk is read with the request's session, so what fails early still answers
    in the surface's error format, and a list that fits in one chunk is one plain response.
    A longer one streams: each further chunk is read in a reader session of its own, closed
    before the chunk is sent (the request's session is gone once the endpoint returns, and
    a client that goes away mid-list leaves nothing open).
    """
    size = min(CHUNK, limit)
    items, key = read(session, None, offset, size) if size else ([], None)
    left = limit - len(items)
    if len(items) < size or left == 0:
        return json_items(items)
    return StreamingResponse(_rest(db, read, items, key, left), media_type="application/json")


def _rest(
    db: Database, read: ReadChunk[Key], first: Items, key: Key | None, left: int
) -> Iterator[bytes]:
    yield _ITEMS.dump_json(first)[:-1]  # the array, still open
    while left:
        size = min(CHUNK, left)
        with db.reader() as session:
            items, key = read(session, key, 0, size)
        if items:
            yield b"," + _ITEMS.dump_json(items)[1:-1]
        left -= len(items)
        if len(items) < size:
            break
    yield b"]"
