"""SCIM bearer-token authentication. SCIM tokens are not OAuth tokens, and vice versa."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.credential_kinds import Kind, Need, from_authorization, identify
from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.services import scim_tokens
from rosterd.services.context import Actor
from rosterd.services.errors import Unauthenticated

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="scimBearer",
    description="A SCIM token from `rosterd scim-tokens create` (not an OAuth access token).",
)
NEED = Need(
    Kind.SCIM_TOKEN,
    "SCIM needs a SCIM token (Authorization: Bearer, from `rosterd scim-tokens create` or "
    "/admin/api/scim-tokens)",
)


def scim_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthenticated(
            NEED.refusal(from_authorization(request.headers.get("authorization")))
        )
    token = credentials.credentials
    if not token.startswith(SCIM_TOKEN_PREFIX):
        raise Unauthenticated(NEED.refusal(identify(token)))
    # Own short sessions, finished before the request's unit of work begins its transaction:
    # on SQLite a second writer inside a request that already holds the write lock would wait
    # on itself.
    db = runtime.db
    with db.reader() as session:
        record = scim_tokens.authenticate(session, token, runtime.hmac_key)
        tenant_id, token_id, stale = record.tenant_id, record.id, scim_tokens.is_stale(record)
    if stale:
        with db.writer.begin() as session:
            scim_tokens.mark_used(session, token_id)
    return Actor(
        tenant_id=tenant_id,
        actor=f"scim-token:{token_id}",
        surface="scim",
        request_id=request_id(request),
    )


ScimActor = Annotated[Actor, Depends(rate_limited(scim_actor))]
