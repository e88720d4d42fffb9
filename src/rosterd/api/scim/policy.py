"""How tolerant the SCIM surface is, and small request helpers shared by its routers."""

from __future__ import annotations

import uuid

from fastapi import Request
from scim2_models import ScimPolicy

from rosterd.services.errors import NotFound

# Bodies are read strictly: unknown attributes and schemas are refused (interoperability
# profile §5.3), so a typo in an IdP mapping surfaces instead of silently losing data.
REQUEST_POLICY = ScimPolicy()

# PATCH additionally speaks Entra ID's dialect: a `remove` whose `value` lists what to remove,
# and an `add`/`replace` through a filter that matches nothing yet (emails[type eq "work"]
# on a user without emails) creating the entry the filter describes.
PATCH_POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def base_url(request: Request) -> str:
    """The SCIM base URL for meta.location, Location and $ref: ROSTERD_PUBLIC_URL followed by
    the SCIM prefix the client used (/scim/v2 or /api/scim/v2).

    Never built from the request's Host header or scheme: a forged Host must not end up in
    the URLs an IdP stores, and behind a TLS-terminating proxy the request says http.
    """
    public_url: str = request.app.state.runtime.settings.public_url
    path = request.url.path
    root = path[: path.index("/v2") + 3] if "/v2" in path else path
    return public_url.rstrip("/") + root


def resource_id(value: str, kind: str) -> uuid.UUID:
    """A resource id from a URL: anything that is not one of ours cannot exist (404)."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise NotFound(f"{kind} {value!r} not found") from exc
