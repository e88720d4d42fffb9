"""JWT login for /api/v1 (seed 004): POST /api/v1/authentication/login, then Bearer tokens."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import ReadSession, RuntimeDep, WriteSession, request_id
from rosterd.api.idempotency import idempotent
from rosterd.api.ratelimit.dependencies import rate_limited
from rosterd.api.routing import api_router
from rosterd.auth.credential_kinds import LOGIN_ENDPOINT, Kind, Need, from_authorization, identify
from rosterd.auth.login_guard import LoginGuard, Throttled
from rosterd.auth.tokens import API_V1_AUDIENCE
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services.admins import PasswordCheck
from rosterd.services.context import Actor
from rosterd.services.errors import RateLimited, Unauthenticated

router = api_router(prefix="/api/v1/authentication", tags=["API v1"])

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiV1Bearer",
    bearerFormat="JWT",
    description="A token from POST /api/v1/authentication/login.",
)
LOGIN_REFUSED = "invalid username or password"
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


async def _login_guard(request: Request) -> LoginGuard:
    guard: LoginGuard = request.app.state.login_guard
    return guard


def _find(runtime: Runtime, username: str) -> admins_service.LoginCandidate | None:
    with runtime.db.reader() as session:
        return admins_service.find_for_login(session, username)


def _complete(
    runtime: Runtime, candidate: admins_service.LoginCandidate, check: PasswordCheck
) -> tuple[uuid.UUID, uuid.UUID, int, str] | None:
    with runtime.db.writer.begin() as session:
        admin = admins_service.complete_login(session, candidate, check, utcnow())
        return (admin.id, admin.tenant_id, admin.token_epoch, admin.username) if admin else None


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
    body: Annotated[Login, Body()],
    request: Request,
    runtime: RuntimeDep,
    guard: Annotated[LoginGuard, Depends(_login_guard)],
) -> LoginToken:
    # No transaction is open while the password is checked: the admin is read first, argon2
    # runs outside any session, and only a success writes (last_login_at). Unknown usernames
    # take the same path against a dummy hash; failures are counted by the guard.
    candidate = await run_in_threadpool(_find, runtime, body.username)
    attempt = guard.attempt(
        body.username,
        request.client.host if request.client else None,
        candidate.throttle_epoch if candidate else 0,
    )

    def verify() -> tuple[bool, PasswordCheck]:
        check = admins_service.check_password(candidate, body.password)
        return check.ok, check

    try:
        check = await guard.check(attempt, verify)
    except Throttled as exc:
        raise RateLimited(
            f"too many failed logins; try again in {exc.retry_after} seconds",
            retry_after=exc.retry_after,
        ) from exc
    claims = (
        await run_in_threadpool(_complete, runtime, candidate, check)
        if check.ok and candidate is not None
        else None
    )
    if claims is None:
        # One message for every failure, so it never tells whether a username exists.
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
def logout(actor: ApiV1Actor, session: WriteSession) -> dict[str, bool]:
    admin_name = actor.actor.removeprefix("admin:")
    admin = admins_service.find(session, admin_name)
    admins_service.logout(session, admin)
    return {"success": True}
