"""A call described once — method, path, parameters, body and how to read the answer — and
run by either transport (sync or async): the resource namespaces build these, so nothing
about the API is written twice."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

V2 = "/integration/v2"


class Unset(enum.Enum):
    """The value of an update argument that was not given (None clears a field)."""

    UNSET = enum.auto()


UNSET = Unset.UNSET


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # POST: the Idempotency-Key to send (one is made when None); False sends none.
    idempotency_key: str | bool | None = None


@dataclass(frozen=True)
class Paged(Generic[T]):
    """A listing read page by page: ``items`` reads a page's items, ``next`` the parameters
    of the page after it (None on the last)."""

    path: str
    params: Mapping[str, Any]
    items: Callable[[Any], list[T]]
    next: Callable[[Any], Mapping[str, Any] | None]


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the arguments that were given, in the API's camelCase."""
    return {to_camel(name): value for name, value in fields.items() if value is not UNSET}


def query(**params: Any) -> dict[str, Any]:
    """Query parameters of the arguments that were given (not None), in camelCase."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[to_camel(name)] = value
    return out


def model(cls: type[M]) -> Callable[[httpx.Response], M]:
    """Read an answer as ``cls``, with the ETag it came with (if any) as ``etag``."""

    def parse(response: httpx.Response) -> M:
        data = response.json()
        etag = response.headers.get("ETag")
        if etag is not None:
            data["etag"] = etag
        return cls.model_validate(data)

    return parse


def nothing(response: httpx.Response) -> None:
    return None


def items_of(cls: type[M], key: str = "items") -> Callable[[Any], list[M]]:
    return lambda page: [cls.model_validate(item) for item in page[key]]


def by_cursor(page: Any) -> Mapping[str, Any] | None:
    """Keyset paging: the next page continues after ``nextCursor``."""
    cursor = page.get("nextCursor")
    return {"cursor": cursor} if cursor else None


def by_offset(page: Any) -> Mapping[str, Any] | None:
    """Offset paging, for the listings the server pages no other way (roles and teams, a
    tenant's short catalogues): rows deleted meanwhile shift later ones back a page, so a
    loop that deletes what it reads would skip some."""
    offset, limit, shown = page.get("offset", 0), page.get("limit", 0), len(page["items"])
    if shown == 0 or shown < limit or offset + shown >= page.get("totalCount", 0):
        return None
    return {"offset": offset + shown}
