"""Sign-in and sign-out: /admin/sign-in, /admin/sign-out.

The sign-in form is protected against login CSRF too, before any session exists: the page
sets a random pre-session cookie and the form carries its HMAC, which the post must bring
back with the cookie (a forged cross-site post has neither the cookie's value nor its HMAC).
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Form, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import RuntimeDep
from rosterd.api.sign_in import sign_in
from rosterd.auth.secrets import new_token, token_hash
from rosterd.console.authorize import is_authorize_path
from rosterd.console.pages import back_to, page, router
from rosterd.console.session import (
    COOKIE,
    PREFIX,
    SURFACE,
    FormAdmin,
    clear_session_cookie,
    secure_cookies,
    set_session_cookie,
)
from rosterd.models import AdminUser
from rosterd.models.base import utcnow
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from rosterd.services import admin_sign_ins, console_sessions
from rosterd.services.errors import RateLimited, Unauthenticated

PRE_SESSION_COOKIE = "rosterd_console_signin"


def _form_token(runtime: Runtime, pre_session: str) -> str:
    return token_hash(runtime.hmac_key, "sign-in:" + pre_session)


def _safe_next(target: str) -> str:
    """Where to go after signing in: a console path or the OAuth authorization endpoint
    (rosterd.console.authorize) only, on this server (no open redirect)."""
    if "\\" in target or target.startswith("//"):
        return f"{PREFIX}/"
    if target.startswith(f"{PREFIX}/"):
        return target
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc and is_authorize_path(parts.path):
        return target
    return f"{PREFIX}/"


def _tenant_of(target: str) -> str | None:
    """The tenant an authorization request names, to fill in the sign-in form."""
    path = urlsplit(target).path
    return path.split("/")[2] if is_authorize_path(path) else None


def _form(
    request: Request, runtime: Runtime, *, status_code: int = 200, **context: object
) -> Response:
    pre_session = request.cookies.get(PRE_SESSION_COOKIE) or new_token("")
    next_page = _safe_next(str(context.pop("next", "")) or request.query_params.get("next", ""))
    response = page(
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        form_token=_form_token(runtime, pre_session),
        next=next_page,
        tenant=_tenant_of(next_page) or runtime.settings.default_tenant,
        **context,
    )
    response.set_cookie(
        PRE_SESSION_COOKIE,
        pre_session,
        path=f"{PREFIX}/sign-in",
        httponly=True,
        samesite="strict",
        secure=secure_cookies(runtime),
    )
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request, runtime: RuntimeDep) -> Response:
    return _form(request, runtime)


@router.post("/sign-in")
async def sign_in_post(
    request: Request,
    runtime: RuntimeDep,
    tenant: Annotated[str, Form(max_length=255)] = "",
    username: Annotated[str, Form(max_length=255)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    pre_session = request.cookies.get(PRE_SESSION_COOKIE, "")
    if not pre_session or not hmac.compare_digest(
        _form_token(runtime, pre_session).encode(), csrf_token.encode()
    ):
        return _form(
            request,
            runtime,
            status_code=403,
            failure="The sign-in form expired; please try again.",
            username=username,
            next=next,
        )

    def tenant_id() -> uuid.UUID:
        with runtime.db.reader() as session:
            found = tenants_repo.get_by_slug(session, tenant.strip())
        # An unknown tenant takes the same path as a wrong password (a tenant nobody has).
        return found.id if found is not None else uuid.uuid4()

    now = utcnow()

    def start(session: Session, admin: AdminUser) -> str:
        return console_sessions.start(session, admin, runtime.hmac_key, now)

    try:
        token = await sign_in(
            request,
            runtime,
            username.strip(),
            password,
            start,
            surface=SURFACE,
            tenant_id=await run_in_threadpool(tenant_id),
        )
    except RateLimited as exc:
        response = _form(
            request, runtime, status_code=429, failure=str(exc), username=username, next=next
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Unauthenticated:
        return _form(
            request,
            runtime,
            status_code=401,
            failure="Wrong tenant, username or password.",
            username=username,
            next=next,
        )
    response = back_to(_safe_next(next))
    set_session_cookie(response, runtime, token)
    response.delete_cookie(PRE_SESSION_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request, admin: FormAdmin, runtime: RuntimeDep) -> Response:
    token = request.cookies.get(COOKIE, "")

    def end() -> None:
        with runtime.db.writer.begin() as session:
            admin_id = console_sessions.end(session, token, runtime.hmac_key)
            if admin_id is not None:
                admin_sign_ins.signed_out(
                    session,
                    admin_sign_ins.SignIn(
                        admin_id=admin_id,
                        tenant_id=admin.actor.tenant_id,
                        username=admin.username,
                        surface=SURFACE,
                        client_address=request.client.host if request.client else None,
                        request_id=admin.actor.request_id,
                    ),
                )

    await run_in_threadpool(end)
    response = back_to(f"{PREFIX}/sign-in", notice="You are signed out.")
    clear_session_cookie(response, runtime)
    return response
