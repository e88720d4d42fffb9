"""The 429 every rate-limited operation may answer, in the OpenAPI document."""

from __future__ import annotations

import copy
import re
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


def document_429(schema: dict[str, Any], *, exchanges: re.Pattern[str]) -> None:
    """Add a 429 to each operation that takes credentials (it declares a security scheme, or
    its path is one of ``exchanges``), its body as the operation's 401 is documented (one
    renderer writes both), and the RateLimit fields to its 2xx responses.

    Each of them may be refused: its credential or tenant over its limit (the surfaces'
    authentication dependencies are wrapped in ``rate_limited``), or its client address out
    of failed authentications (``RateLimitMiddleware``).
    """
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if "security" in operation or exchanges.match(path):
                _limited(operation.setdefault("responses", {}))


def _limited(responses: dict[str, Any]) -> None:
    too_many: dict[str, Any] = {"description": DESCRIPTION, "headers": copy.deepcopy(_HEADERS)}
    if "content" in responses.get("401", {}):
        too_many["content"] = copy.deepcopy(responses["401"]["content"])
    responses["429"] = too_many
    for status, response in responses.items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(copy.deepcopy(_LIMITED_HEADERS))
