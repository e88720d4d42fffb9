"""User identities authenticate with ``Authorization: Bearer <API key>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.credential_kinds import Kind, Need, from_authorization, identify
from rosterd.auth.secrets import API_KEY_PREFIX
from rosterd.services import api_keys, bearer_secrets
from rosterd.services.context import Actor
from rosterd.services.errors import Unauthenticated

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `rosterd api-keys create` (starts with seam_).",
)
NEED = Need(
    Kind.API_KEY,
    "this API needs an API key (Authorization: Bearer, from `rosterd api-keys create`)",
)


def identities_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthenticated(
            NEED.refusal(from_authorization(request.headers.get("authorization")))
        )
    if not credentials.credentials.startswith(API_KEY_PREFIX):
        raise Unauthenticated(NEED.refusal(identify(credentials.credentials)))
    with runtime.db.reader() as session:
        key = bearer_secrets.authenticate(
            session, api_keys.KIND, credentials.credentials, runtime.hmac_key
        )
        tenant_id, key_id, stale = key.tenant_id, key.id, bearer_secrets.is_stale(key)
    if stale:
        with runtime.db.writer.begin() as session:
            bearer_secrets.mark_used(session, api_keys.KIND, key_id)
    return Actor(
        tenant_id=tenant_id,
        actor=f"api-key:{key_id}",
        surface="user_identities",
        request_id=request_id(request),
    )


IdentitiesActor = Annotated[Actor, Depends(idempotent(rate_limited(identities_actor)))]
