"""JWT login for /api/v1 (seed 004): POST /api/v1/authentication/login, then Bearer tokens."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession, request_id
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.routing import api_router
from rosterd.api.sign_in import sign_in
from rosterd.auth.credential_kinds import LOGIN_ENDPOINT, Kind, Need, from_authorization, identify
from rosterd.auth.tokens import API_V1_AUDIENCE
from rosterd.services import admin_sign_ins
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
NEED = Need(
    Kind.API_V1_TOKEN,
    f"this API needs a token from {LOGIN_ENDPOINT} (Authorization: Bearer)",
    "log in again",
)


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
    description="Failed logins are throttled per username and client address, and per client "
    "address: once too many have failed, further attempts are answered 429 with Retry-After "
    "(seconds) until the window frees, and the wait grows as failures pile up "
    "(ROSTERD_LOGIN_LIMITS_PER_ACCOUNT, ROSTERD_LOGIN_LIMITS_PER_ADDRESS). Other addresses "
    "are not affected; `rosterd admins unlock` lifts an admin's throttles.",
    response_model=LoginToken,
    responses={
        401: {"description": "Wrong credentials (one answer for every reason)."},
        429: {"description": "Too many failed logins; retry after Retry-After seconds."},
    },
)
async def login(
    body: Annotated[Login, Body()], request: Request, runtime: RuntimeDep
) -> LoginToken:
    admin_id, tenant_id, epoch, username = await sign_in(
        request,
        runtime,
        body.username,
        body.password,
        lambda _, admin: (admin.id, admin.tenant_id, admin.token_epoch, admin.username),
        surface="api_v1",
    )
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
        raise Unauthenticated(
            NEED.refusal(from_authorization(request.headers.get("authorization")))
        )
    token = credentials.credentials
    access = runtime.signer.verify(token, audience=API_V1_AUDIENCE)
    if access is None:
        raise Unauthenticated(NEED.refusal(identify(token)))
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


ApiV1Actor = Annotated[Actor, Depends(idempotent(rate_limited(api_v1_actor)))]


@router.post(
    "/logout",
    operation_id="apiV1Logout",
    summary="Revoke every token of the logged-in admin",
)
def logout(request: Request, actor: ApiV1Actor, session: WriteSession) -> dict[str, bool]:
    admin_name = actor.actor.removeprefix("admin:")
    admin = admins_service.find(session, admin_name)
    admins_service.logout(session, admin)
    admin_sign_ins.signed_out(
        session,
        admin_sign_ins.SignIn(
            admin_id=admin.id,
            tenant_id=admin.tenant_id,
            username=admin.username,
            surface=actor.surface,
            client_address=request.client.host if request.client else None,
            request_id=actor.request_id,
        ),
    )
    return {"success": True}
