"""ADMIN users API credentials: an OAuth bearer token *and* an x-api-key of the same tenant."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from rosterd.api.deps import RuntimeDep
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.v2.auth import require
from rosterd.auth.credential_kinds import Kind, Need, identify
from rosterd.auth.scopes import Scope
from rosterd.auth.secrets import API_KEY_PREFIX
from rosterd.services import api_keys, bearer_secrets
from rosterd.services.context import Actor
from rosterd.services.errors import Unauthenticated

X_API_KEY = Need(
    Kind.API_KEY,
    "this API needs an API key of the tenant in the x-api-key header (from "
    "`rosterd api-keys create`), besides the OAuth access token in Authorization",
)


def _with_api_key(scope: Scope) -> Callable[..., Actor]:
    oauth = require(scope, surface="admin_users")

    def dependency(
        request: Request,
        runtime: RuntimeDep,
        actor: Annotated[Actor, Depends(oauth)],
        x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
    ) -> Actor:
        if not x_api_key:
            raise Unauthenticated(X_API_KEY.refusal(None))
        if not x_api_key.startswith(API_KEY_PREFIX):
            raise Unauthenticated(X_API_KEY.refusal(identify(x_api_key)))
        with runtime.db.reader() as session:
            key = bearer_secrets.authenticate(session, api_keys.KIND, x_api_key, runtime.hmac_key)
            key_tenant, key_id, stale = key.tenant_id, key.id, bearer_secrets.is_stale(key)
        if key_tenant != actor.tenant_id:
            raise Unauthenticated("the API key and the access token belong to different tenants")
        if stale:
            runtime.last_uses.note(api_keys.KIND.model, key_id)
        return actor

    return dependency


AdminRead = Annotated[Actor, Depends(idempotent(rate_limited(_with_api_key(Scope.user_read))))]
AdminWrite = Annotated[Actor, Depends(idempotent(rate_limited(_with_api_key(Scope.user_write))))]
