"""An admin's password sign-in, shared by every surface that takes one (POST
/api/v1/authentication/login, the admin console's sign-in form): the same accounts, the same
throttles (rosterd.auth.login_guard) and the same answer for every failure.

No transaction is open while the password is checked: the admin is read first, argon2 runs
outside any session, and only a success writes (last_login_at, its audit row
``admin.signed_in`` and whatever ``then`` adds, in one transaction). Unknown usernames take
the same path against a dummy hash. A known admin's checked and refused password is
audited (``admin.sign_in_failed``) in a short transaction of its own; throttled attempts
and unknown usernames write nothing (rosterd.services.admin_sign_ins).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import request_id
from rosterd.auth.login_guard import LoginGuard, Throttled
from rosterd.models import AdminUser
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import admin_sign_ins
from rosterd.services import admins as admins_service
from rosterd.services.admin_sign_ins import Refusal
from rosterd.services.admins import LoginCandidate, PasswordCheck
from rosterd.services.errors import RateLimited, Unauthenticated

T = TypeVar("T")
# One message for every failure, so it never tells whether a username exists.
LOGIN_REFUSED = "invalid username or password"


def login_guard(request: Request) -> LoginGuard:
    guard: LoginGuard = request.app.state.login_guard
    return guard


async def sign_in(
    request: Request,
    runtime: Runtime,
    username: str,
    password: str,
    then: Callable[[Session, AdminUser], T],
    *,
    surface: str,
    tenant_id: uuid.UUID | None = None,
) -> T:
    """Check ``username``'s password (an admin of ``tenant_id`` when given) and, on success,
    record the login and return what ``then`` makes of the admin in the same transaction.
    The audit rows carry ``surface``. Raises Unauthenticated (LOGIN_REFUSED) or
    RateLimited."""
    guard = login_guard(request)
    client = request.client.host if request.client else None

    def find() -> LoginCandidate | None:
        with runtime.db.reader() as session:
            return admins_service.find_for_login(session, username, tenant_id)

    candidate = await run_in_threadpool(find)
    attempt = guard.attempt(username, client, candidate.throttle_epoch if candidate else 0)

    def verify() -> tuple[bool, PasswordCheck]:
        check = admins_service.check_password(candidate, password)
        return check.ok, check

    try:
        check = await guard.check(attempt, verify)
    except Throttled as exc:
        raise RateLimited(
            f"too many failed logins; try again in {exc.retry_after} seconds",
            retry_after=exc.retry_after,
        ) from exc
    if candidate is None:
        raise Unauthenticated(LOGIN_REFUSED)
    audited = admin_sign_ins.SignIn(
        admin_id=candidate.id,
        tenant_id=candidate.tenant_id,
        username=candidate.username,
        surface=surface,
        client_address=client,
        request_id=request_id(request),
    )

    def refuse(reason: Refusal) -> None:
        with runtime.db.writer.begin() as session:
            admin_sign_ins.refused(session, audited, reason)

    if not check.ok:
        locked = await guard.locked(attempt)
        await run_in_threadpool(refuse, Refusal.locked if locked else Refusal.wrong_password)
        raise Unauthenticated(LOGIN_REFUSED)
    found = candidate

    def complete() -> tuple[T] | None:
        with runtime.db.writer.begin() as session:
            admin = admins_service.complete_login(session, found, check, utcnow())
            if admin is None:
                return None
            admin_sign_ins.signed_in(session, audited)
            return (then(session, admin),)

    done = await run_in_threadpool(complete)
    if done is None:
        await run_in_threadpool(refuse, Refusal.password_changed)
        raise Unauthenticated(LOGIN_REFUSED)
    return done[0]
