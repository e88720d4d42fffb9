"""Bearer-token authorization for /integration/v2: each router states the scope it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rosterd.api.deps import RuntimeDep, request_id
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.auth.scopes import Scope, grants
from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.services.context import Actor
from rosterd.services.errors import Forbidden, Unauthenticated

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="OAuth 2.0 access token from POST /tenants/{tenant}/connect/token.",
)


def require(scope: Scope, surface: str = "v2") -> Callable[..., Awaitable[Actor]]:
    """A dependency that admits a valid access token holding ``scope`` and yields its Actor.

    It does no I/O (the signature check is CPU work, remembered per token), so it runs on
    the event loop instead of taking a worker thread.
    """

    async def dependency(
        request: Request,
        runtime: RuntimeDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Actor:
        if credentials is None:
            raise Unauthenticated(
                "missing bearer token: send an OAuth access token from "
                "POST /tenants/{tenant}/connect/token"
            )
        token = credentials.credentials
        if token.startswith(SCIM_TOKEN_PREFIX):
            raise Unauthenticated(
                "a SCIM token only works on /scim/v2; this API needs an OAuth access token "
                "from POST /tenants/{tenant}/connect/token"
            )
        access = runtime.signer.verify(token)
        if access is None:
            raise Unauthenticated("invalid or expired access token")
        if not grants(access.scopes, scope):
            raise Forbidden(
                f"the access token lacks the scope {scope.value}", code="insufficient_scope"
            )
        return Actor(
            tenant_id=access.tenant_id,
            actor=f"client:{access.subject}",
            surface=surface,
            request_id=request_id(request),
        )

    return dependency


UserRead = Annotated[Actor, Depends(rate_limited(require(Scope.user_read)))]
UserWrite = Annotated[Actor, Depends(rate_limited(require(Scope.user_write)))]
GroupRead = Annotated[Actor, Depends(rate_limited(require(Scope.group_read)))]
GroupWrite = Annotated[Actor, Depends(rate_limited(require(Scope.group_write)))]
RoleRead = Annotated[Actor, Depends(rate_limited(require(Scope.role_read)))]
RoleWrite = Annotated[Actor, Depends(rate_limited(require(Scope.role_write)))]
TeamRead = Annotated[Actor, Depends(rate_limited(require(Scope.team_read)))]
TeamWrite = Annotated[Actor, Depends(rate_limited(require(Scope.team_write)))]
