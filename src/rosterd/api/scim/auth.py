"""SCIM bearer-token authentication. SCIM tokens are not OAuth tokens, and vice versa."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.fast_paths import bearer_authenticate
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.credential_kinds import Kind, Need, from_authorization, identify
from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.runtime import Runtime
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


async def scim_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The Actor of a valid SCIM token (``token_actor``)."""
    if credentials is None:
        raise Unauthenticated(
            NEED.refusal(from_authorization(request.headers.get("authorization")))
        )
    return await token_actor(runtime, credentials.credentials, request_id(request))


async def token_actor(runtime: Runtime, token: str, request_id: str | None) -> Actor:
    """The Actor of a valid SCIM token. Runs on the event loop: the token's state comes from
    the process's SecretGate, which reads it from the store in a worker thread at most every
    ``scim_token_cache_seconds`` in a short session of its own; its last use is noted at most
    once a minute, and written beside the request (rosterd.lifecycle.last_uses)."""
    if not token.startswith(SCIM_TOKEN_PREFIX):
        raise Unauthenticated(NEED.refusal(identify(token)))
    gate = runtime.scim_gate
    key = gate.key(token)
    verdict = gate.cached(key) or await run_in_threadpool(gate.load, key)
    if verdict is None:
        raise Unauthenticated(f"invalid or revoked {gate.kind.label}")
    refusal = verdict.refusal(gate.kind.label)
    if refusal is not None:
        raise Unauthenticated(refusal)
    used_at = gate.claim_last_use(verdict)
    if used_at is not None:
        runtime.last_uses.note(gate.kind.model, verdict.secret_id, used_at)
    return Actor(
        tenant_id=verdict.tenant_id,
        actor=f"scim-token:{verdict.secret_id}",
        surface="scim",
        request_id=request_id,
    )


# For the fast paths (rosterd.api.fast_paths): what ``ScimActor`` gives a request.
fast_actor = bearer_authenticate(token_actor)


ScimActor = Annotated[Actor, Depends(rate_limited(scim_actor))]
