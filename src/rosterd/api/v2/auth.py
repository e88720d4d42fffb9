"""Bearer-token authorization for /integration/v2: each router states the scope it needs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.fast_paths import Authenticate, bearer_authenticate
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.credential_kinds import TOKEN_ENDPOINT, Kind, Need, from_authorization, identify
from rosterd.auth.scopes import Scope, grants
from rosterd.runtime import Runtime
from rosterd.services.client_gate import Gate
from rosterd.services.context import Actor
from rosterd.services.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="OAuth 2.0 access token from POST /tenants/{tenant}/connect/token.",
)


_TOKEN = f"an OAuth access token (Authorization: Bearer, from {TOKEN_ENDPOINT})"
_RENEW = f"get a new one from {TOKEN_ENDPOINT}"
# What each surface that takes OAuth access tokens says it needs.
NEEDS = {
    "v2": Need(Kind.OAUTH_ACCESS_TOKEN, f"this API needs {_TOKEN}", _RENEW),
    "admin": Need(Kind.OAUTH_ACCESS_TOKEN, f"this API needs {_TOKEN} with the admin scope", _RENEW),
    "admin_users": Need(
        Kind.OAUTH_ACCESS_TOKEN,
        f"this API needs {_TOKEN} and an API key of the same tenant in the x-api-key header",
        _RENEW,
    ),
}


async def bearer_actor(
    runtime: Runtime, token: str, scope: Scope, need: Need, surface: str, request_id: str | None
) -> Actor:
    """The Actor of a valid access token holding ``scope``; else Unauthenticated/Forbidden.

    It runs on the event loop: the signature check is CPU work, remembered per token, and
    whether the token's client is still live (not revoked, not expired) is known to the
    process's ClientGate, which reads it from the store in a worker thread at most every
    couple of seconds per client. Only when the key ring must read the store (a kid it does
    not know yet, or its periodic refresh) does the signature check move to a worker thread
    too. Every surface that takes OAuth tokens comes through here.
    """
    access = runtime.signer.verify(token, read_store=False)
    if access is None or runtime.signer.refresh_due():
        access = await run_in_threadpool(runtime.signer.verify, token)
    if access is None:
        raise Unauthenticated(need.refusal(identify(token)))
    # A token of the authorization code flow acts for an admin (``sub``) through a client
    # (``client_id``) under a grant (``gid``); a client_credentials token is the client's.
    client_id = str(access.claims.get("client_id", access.subject))
    grant_id = access.claims.get("gid")
    await _check_standing(runtime.client_gate, access.tenant_id, client_id)
    if isinstance(grant_id, str):
        await _check_standing(runtime.grant_gate, access.tenant_id, grant_id)
    if not grants(access.scopes, scope):
        raise Forbidden(
            f"the access token lacks the scope {scope.value}", code="insufficient_scope"
        )
    actor = f"client:{client_id}"
    if isinstance(grant_id, str):
        # Audited as both: the admin who consented and the app that acted.
        actor = f"admin:{access.claims.get('preferred_username', access.subject)} via {actor}"
    return Actor(
        tenant_id=access.tenant_id,
        actor=actor,
        surface=surface,
        request_id=request_id,
        scopes=access.scopes,
    )


async def _check_standing(gate: Gate[Any], tenant_id: uuid.UUID, key: str) -> None:
    cached = gate.cached(tenant_id, key)
    standing = cached if cached is not None else await run_in_threadpool(gate.load, tenant_id, key)
    refusal: str | None = standing.refusal()
    if refusal is not None:
        raise Unauthenticated(refusal)


def require(scope: Scope, surface: str = "v2") -> Callable[..., Awaitable[Actor]]:
    """A dependency that admits a valid access token holding ``scope`` and yields its Actor
    (``bearer_actor``)."""
    need = NEEDS.get(surface, NEEDS["v2"])

    async def dependency(
        request: Request,
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor:
        if credentials is None:
            presented = from_authorization(request.headers.get("authorization"))
            raise Unauthenticated(need.refusal(presented))
        return await bearer_actor(
            runtime, credentials.credentials, scope, need, surface, request_id(request)
        )

    return dependency


def fast_actor(scope: Scope) -> Authenticate:
    """For a fast path (rosterd.api.fast_paths) of a v2 route declaring ``scope``: what the
    route's dependencies give (the Actor, the request counted against its rate limits), or
    None when the request carries no bearer token, which the route itself answers."""

    async def actor_of(runtime: Runtime, token: str, rid: str | None) -> Actor:
        return await bearer_actor(runtime, token, scope, NEEDS["v2"], "v2", rid)

    return bearer_authenticate(actor_of)


UserRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.user_read))))]
UserWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.user_write))))]
GroupRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.group_read))))]
GroupWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.group_write))))]
RoleRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.role_read))))]
RoleWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.role_write))))]
TeamRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.team_read))))]
TeamWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.team_write))))]
LifecycleWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.lifecycle_write))))]
AuditRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.audit_read))))]
WebhookRead = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.webhook_read))))]
WebhookWrite = Annotated[Actor, Depends(idempotent(rate_limited(require(Scope.webhook_write))))]
