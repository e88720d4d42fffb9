"""User identities authenticate with ``Authorization: Bearer <API key>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.fast_paths import bearer_authenticate
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.credential_kinds import Kind, Need, from_authorization, identify
from rosterd.auth.secrets import API_KEY_PREFIX
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import credentials as credentials_service
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


async def identities_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthenticated(
            NEED.refusal(from_authorization(request.headers.get("authorization")))
        )
    return await key_actor(runtime, credentials.credentials, request_id(request))


async def key_actor(runtime: Runtime, token: str, request_id: str | None) -> Actor:
    """The Actor of a valid API key, read as the store holds it now (a revoked key is refused
    at once): a point read, on the event loop on SQLite, with no session or worker thread.
    Its last use is noted when it is due (at most once a minute) and written beside the
    request (rosterd.lifecycle.last_uses)."""
    if not token.startswith(API_KEY_PREFIX):
        raise Unauthenticated(NEED.refusal(identify(token)))
    key = await runtime.work.read_point(
        lambda db: bearer_secrets.authenticate_at(db, api_keys.KIND, token, runtime.hmac_key)
    )
    if credentials_service.is_stale(key.last_used_at):
        runtime.last_uses.note(api_keys.KIND.model, key.id)
    return Actor(
        tenant_id=key.tenant_id,
        actor=f"api-key:{key.id}",
        surface="user_identities",
        request_id=request_id,
    )


# For the fast paths (rosterd.api.fast_paths): what ``IdentitiesActor`` gives a request.
fast_actor = bearer_authenticate(key_actor)


IdentitiesActor = Annotated[Actor, Depends(idempotent(rate_limited(identities_actor)))]
