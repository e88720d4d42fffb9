"""Who is signed in to the console: the session cookie, the CSRF check, and the Actor every
write of the console is audited with (surface ``console``, the signed-in admin as actor).

The pieces here are not tied to the console's pages: anything an admin signs in to with
the console's sign-in (the OAuth authorization endpoint, later) depends on ``SignedInAdmin``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request, Response
from sqlalchemy.orm import Session

from rosterd.api.deps import in_unit_of_work, request_id
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.db.work import Kind
from rosterd.models import Tenant
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import admin_sign_ins, console_sessions
from rosterd.services.context import Actor
from rosterd.services.errors import Forbidden, Unauthenticated

COOKIE = "rosterd_console"
PREFIX = "/admin"
SURFACE = "console"


class SignInRequired(Unauthenticated):
    """No valid session: the console answers with its sign-in page."""


@dataclass(frozen=True)
class ConsoleAdmin:
    """The signed-in admin of a request: the Actor its writes carry and its session's CSRF
    token (to put in every form it is shown)."""

    actor: Actor
    username: str
    tenant_slug: str
    tenant_name: str
    csrf_token: str


def lifetimes(runtime: Runtime) -> console_sessions.Lifetimes:
    settings = runtime.settings
    return console_sessions.Lifetimes(
        idle=timedelta(minutes=settings.console_idle_minutes),
        absolute=timedelta(hours=settings.console_absolute_hours),
    )


def secure_cookies(runtime: Runtime) -> bool:
    return urlsplit(runtime.settings.public_url).scheme == "https"


def set_session_cookie(response: Response, runtime: Runtime, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetimes(runtime).absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(runtime),
    )


def clear_session_cookie(response: Response, runtime: Runtime) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(runtime)
    )


async def signed_in_admin(request: Request) -> ConsoleAdmin:
    """The admin of the request's session cookie, its use recorded; SignInRequired when there
    is none or it has ended."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired("sign in to use the console")
    runtime: Runtime = request.app.state.runtime
    now = utcnow()

    def resume(session: Session) -> ConsoleAdmin | None:
        try:
            signed = console_sessions.resume(
                session, token, runtime.hmac_key, lifetimes(runtime), now
            )
        except Unauthenticated as exc:
            raise SignInRequired(str(exc)) from exc
        if isinstance(signed, console_sessions.Ended):
            if signed.timed_out is not None:
                admin, reason = signed.timed_out
                who = admin_sign_ins.SignIn(
                    admin_id=admin.id,
                    tenant_id=admin.tenant_id,
                    username=admin.username,
                    surface=SURFACE,
                    client_address=request.client.host if request.client else None,
                    request_id=request_id(request),
                )
                admin_sign_ins.signed_out(session, who, reason=reason)
            return None  # committed: the ended session's row goes
        return _console_admin(request, signed.admin.username, signed.tenant, signed.csrf_token)

    signed_in = await in_unit_of_work(runtime, Kind.WRITE, resume)
    if signed_in is None:
        raise SignInRequired("the session has ended; sign in again")
    return signed_in


def _console_admin(request: Request, username: str, tenant: Tenant, csrf: str) -> ConsoleAdmin:
    return ConsoleAdmin(
        actor=Actor(
            tenant_id=tenant.id,
            actor=f"admin:{username}",
            surface=SURFACE,
            request_id=request_id(request),
            scopes=frozenset(ALL_SCOPES),
        ),
        username=username,
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        csrf_token=csrf,
    )


SignedInAdmin = Annotated[ConsoleAdmin, Depends(signed_in_admin)]


async def checked_form_admin(
    admin: SignedInAdmin, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> ConsoleAdmin:
    """The signed-in admin of a form post whose CSRF token is its session's (403 otherwise):
    every POST of the console depends on this."""
    if not hmac.compare_digest(csrf_token.encode(), admin.csrf_token.encode()):
        raise Forbidden("the form's CSRF token is missing or not this session's; reload the page")
    return admin


FormAdmin = Annotated[ConsoleAdmin, Depends(checked_form_admin)]
