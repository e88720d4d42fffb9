"""Offset paging of /integration/v2, with seed 000's page/pageSize accepted as aliases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from rosterd.api.v2.schemas import ErrorOut
from rosterd.services.errors import invalid_field

MAX_LIMIT = 100


@dataclass(frozen=True)
class Window:
    offset: int
    limit: int
    page: int | None = None
    page_size: int | None = None

    def envelope(self) -> dict[str, int]:
        if self.page is not None and self.page_size is not None:
            return {
                "offset": self.offset,
                "limit": self.limit,
                "page": self.page,
                "pageSize": self.page_size,
            }
        return {"offset": self.offset, "limit": self.limit}


async def window(
    offset: Annotated[
        int | None, Query(ge=0, le=10_000_000, description="Number of items to skip.")
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=0, le=MAX_LIMIT, description="Maximum number of items to return (at most 100)."),
    ] = None,
    page: Annotated[
        int | None,
        Query(
            ge=1, le=1_000_000, description="1-based page number; an alias of offset (seed 000)."
        ),
    ] = None,
    page_size: Annotated[
        int | None,
        Query(
            alias="pageSize",
            ge=1,
            le=MAX_LIMIT,
            description="Page size; an alias of limit (seed 000).",
        ),
    ] = None,
) -> Window:
    if page is not None or page_size is not None:
        if offset is not None:
            raise invalid_field("offset", "use either offset/limit or page/pageSize, not both")
        size = page_size if page_size is not None else (limit if limit is not None else 25)
        number = page or 1
        return Window(offset=(number - 1) * size, limit=size, page=number, page_size=size)
    return Window(offset=offset or 0, limit=25 if limit is None else limit)


WindowDep = Annotated[Window, Depends(window)]


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses`` entries for the v2 error envelope."""
    text = {
        400: "Bad request: the request was invalid; nothing was written.",
        401: "Missing, invalid or expired access token.",
        403: "The access token lacks the scope this operation needs.",
        404: "No such resource in this tenant.",
        409: "Conflict with the current state.",
        412: "If-Match names a version the resource is no longer at (it changed since it "
        "was read); nothing was written.",
        422: "Values that do not go together, or not with the resource as it is (a "
        "`validFrom` after `expiresAt`, an expiry in the past); nothing was written.",
    }
    return {s: {"model": ErrorOut, "description": text[s]} for s in statuses}
