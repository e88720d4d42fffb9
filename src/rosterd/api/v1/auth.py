"""JWT login for /api/v1 (seed 004): POST /api/v1/authentication/login, then Bearer tokens."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession, request_id
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.routing import api_router
from rosterd.auth.secrets import SCIM_TOKEN_PREFIX
from rosterd.auth.tokens import API_V1_AUDIENCE
from rosterd.models.base import utcnow
from rosterd.services import admins as admins_service
from rosterd.services.context import Actor
from rosterd.services.errors import Unauthenticated

router = api_router(prefix="/api/v1/authentication", tags=["API v1"])

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiV1Bearer",
    bearerFormat="JWT",
    description="A token from POST /api/v1/authentication/login.",
)
LOGIN_REFUSED = "invalid username or password (after too many failed logins, try again later)"
_NEEDS = "this API needs a token from POST /api/v1/authentication/login"


class Login(BaseModel):
    model_config = ConfigDict(extra="ignore")
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=256)


class LoginToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the RFC 6750 token type, not a secret)
    expires_in: int


@router.post(
    "/login",
    operation_id="apiV1Login",
    summary="Log in with an admin's username and password",
    response_model=LoginToken,
    responses={401: {"description": "Wrong credentials, or too many failures for a while."}},
)
def login(body: Annotated[Login, Body()], runtime: RuntimeDep) -> LoginToken:
    # The failure count must be committed even though the answer is a 401, so this endpoint
    # runs its own unit of work instead of the request's.
    with runtime.db.writer.begin() as session:
        admin = admins_service.login(session, body.username, body.password, utcnow())
        claims = (admin.id, admin.tenant_id, admin.token_epoch, admin.username) if admin else None
    if claims is None:
        # One message for every failure, locked or not, so it never tells whether a
        # username exists.
        raise Unauthenticated(LOGIN_REFUSED)
    admin_id, tenant_id, epoch, username = claims
    ttl = runtime.settings.api_v1_token_ttl_seconds
    token = runtime.signer.issue(
        issuer=runtime.settings.public_url.rstrip("/") + "/api/v1",
        tenant_id=tenant_id,
        subject=str(admin_id),
        scopes=["admin"],
        ttl=ttl,
        audience=API_V1_AUDIENCE,
        extra={"epoch": epoch, "name": username},
    )
    return LoginToken(access_token=token, expires_in=ttl)


def api_v1_actor(
    request: Request,
    runtime: RuntimeDep,
    session: ReadSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise Unauthenticated(f"missing bearer token: {_NEEDS}")
    token = credentials.credentials
    if token.startswith(SCIM_TOKEN_PREFIX):
        raise Unauthenticated(f"a SCIM token only works on /scim/v2; {_NEEDS}")
    access = runtime.signer.verify(token, audience=API_V1_AUDIENCE)
    if access is None:
        if runtime.signer.verify(token) is not None:
            raise Unauthenticated(f"an OAuth access token only works on /integration/v2; {_NEEDS}")
        raise Unauthenticated("invalid or expired token; log in again")
    epoch: Any = access.claims.get("epoch")
    if not isinstance(epoch, int):
        raise Unauthenticated("invalid token; log in again")
    admin = admins_service.current(session, uuid.UUID(access.subject), epoch)
    return Actor(
        tenant_id=admin.tenant_id,
        actor=f"admin:{admin.username}",
        surface="api_v1",
        request_id=request_id(request),
    )


ApiV1Actor = Annotated[Actor, Depends(rate_limited(api_v1_actor))]


@router.post(
    "/logout",
    operation_id="apiV1Logout",
    summary="Revoke every token of the logged-in admin",
)
def logout(actor: ApiV1Actor, session: WriteSession) -> dict[str, bool]:
    admin_name = actor.actor.removeprefix("admin:")
    admin = admins_service.find(session, admin_name)
    admins_service.logout(session, admin)
    return {"success": True}
