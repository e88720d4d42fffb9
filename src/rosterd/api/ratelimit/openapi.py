"""The 429 every rate-limited operation may answer, in the OpenAPI document."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds to wait before sending another request.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Policy": {
        "description": "The limits that apply (draft-ietf-httpapi-ratelimit-headers): "
        '`"credential";q=3000;w=60, "tenant";q=6000;w=60`: quota `q` per window `w` seconds.',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "The limit closest to refusing: remaining quota `r` and seconds `t` "
        'until it is reset, e.g. `"credential";r=0;t=42`.',
        "schema": {"type": "string"},
    },
}
_LIMITED_HEADERS = {k: v for k, v in _HEADERS.items() if k != "Retry-After"}
DESCRIPTION = (
    "Too many requests: a rate limit of the credential, its tenant, or (for failed "
    "authentications) the client address is spent. Retry after `Retry-After` seconds. The "
    "body is this API's error format. Every limited response carries `RateLimit-Policy` "
    "and `RateLimit`."
)


def document_429(schema: dict[str, Any], limited: Iterable[tuple[str, str]]) -> None:
    """Add a 429 to each limited (path, method) of ``schema``, its body as the operation's 401
    is documented (the same renderer writes both), and the RateLimit fields to its 2xx."""
    for path, method in limited:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        too_many: dict[str, Any] = {"description": DESCRIPTION, "headers": copy.deepcopy(_HEADERS)}
        if "content" in responses.get("401", {}):
            too_many["content"] = copy.deepcopy(responses["401"]["content"])
        responses["429"] = too_many
        for status, response in responses.items():
            if status.startswith("2"):
                response.setdefault("headers", {}).update(copy.deepcopy(_LIMITED_HEADERS))
