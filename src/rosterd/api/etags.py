"""ETag and If-Match for the REST surfaces: a resource's ETag is its version (the one SCIM's
``meta.version`` shows), as a weak entity tag, ``W/"<version>"``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from rosterd.services.errors import invalid_field


def etag(version: int) -> str:
    return f'W/"{version}"'


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header requires, or None when it requires none (absent or
    ``*``: the resource exists, which the write checks anyway). A value that is not an ETag
    rosterd issues is a 400: it could never match, and a client sending it has a bug."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if value.isascii() and value.isdigit():
        return int(value)
    raise invalid_field("If-Match", 'must be * or one ETag as rosterd sends it (W/"<version>")')


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="Write only if the resource is still at this ETag (from a GET or an "
        "earlier write's `ETag` header); otherwise nothing changes and the answer is 412. "
        "`*` matches any version. Without it the write is unconditional.",
    ),
]

ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": "The resource's version, for If-Match on a later write "
        '(weak: `W/"<version>"`).',
        "schema": {"type": "string"},
    }
}


def with_etag(status: int) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI ``responses`` entry saying ``status`` carries the resource's ETag."""
    return {status: {"headers": ETAG_HEADER}}
