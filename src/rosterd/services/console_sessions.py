"""Signed-in sessions of the admin console, usable by any page an admin signs in to (the
OAuth authorization endpoint will reuse them).

The cookie carries a random token; the store keeps its HMAC only (``token_hash``), so a copy
of the database opens no session. A session is valid while it is younger than its absolute
lifetime, was used within its idle timeout, and its admin still exists with the
``token_epoch`` it signed in with (a password reset or an offboarding ends it). The CSRF
token of a session is an HMAC of its token, so every form of a session carries the same
token and nothing more is stored (a synchronizer token bound to the session).
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.auth.secrets import new_token, token_hash
from rosterd.models import AdminUser, ConsoleSession, Tenant
from rosterd.repositories import admins as admins_repo
from rosterd.repositories import console_sessions as sessions_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.services.errors import Unauthenticated

TOKEN_PREFIX = "rcon_"  # noqa: S105 (a prefix, not a secret)
# A session's last_seen_at is written again only once it is this old, so that a page's
# burst of requests is not a burst of writes (the idle timeout is minutes long).
TOUCH_EVERY = timedelta(seconds=15)


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    """The admin behind a valid session."""

    admin: AdminUser
    tenant: Tenant
    csrf_token: str


def start(session: Session, admin: AdminUser, hmac_key: bytes, now: datetime) -> str:
    """A new session for ``admin``: the token to put in the cookie (shown nowhere else)."""
    token = new_token(TOKEN_PREFIX)
    sessions_repo.add(
        session,
        ConsoleSession(
            tenant_id=admin.tenant_id,
            admin_id=admin.id,
            token_hash=token_hash(hmac_key, token),
            token_epoch=admin.token_epoch,
            created_at=now,
            last_seen_at=now,
        ),
    )
    return token


def csrf_token(hmac_key: bytes, token: str) -> str:
    return token_hash(hmac_key, "csrf:" + token)


def csrf_matches(hmac_key: bytes, token: str, presented: str) -> bool:
    return hmac.compare_digest(csrf_token(hmac_key, token), presented)


@dataclass(frozen=True)
class Ended:
    """A session found ended, and deleted (in the caller's transaction, which is to commit):
    ``timed_out`` names the admin it was (once, whoever finds it first) and why, when it
    ended by a timeout; an ending by password reset, offboarding or deletion is audited by
    what did it."""

    timed_out: tuple[AdminUser, str] | None


IDLE_TIMEOUT = "idle_timeout"
ABSOLUTE_TIMEOUT = "absolute_timeout"


def resume(
    session: Session, token: str, hmac_key: bytes, lifetimes: Lifetimes, now: datetime
) -> SignedIn | Ended:
    """The admin of a valid session, whose use is recorded; Ended when it has ended (it is
    deleted); Unauthenticated when there is none."""
    digest = token_hash(hmac_key, token)
    record = sessions_repo.find(session, digest)
    if record is None:
        raise Unauthenticated("not signed in")
    admin = admins_repo.get(session, record.admin_id)
    tenant = tenants_repo.get(session, record.tenant_id)
    if (
        admin is None
        or tenant is None
        or admin.token_epoch != record.token_epoch
        or admin.tenant_id != record.tenant_id
    ):
        sessions_repo.remove(session, digest)
        return Ended(None)
    if now - record.created_at >= lifetimes.absolute:
        timeout: str | None = ABSOLUTE_TIMEOUT
    elif now - record.last_seen_at >= lifetimes.idle:
        timeout = IDLE_TIMEOUT
    else:
        timeout = None
    if timeout is not None:
        removed = sessions_repo.remove(session, digest)
        return Ended((admin, timeout) if removed is not None else None)
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
    return SignedIn(admin=admin, tenant=tenant, csrf_token=csrf_token(hmac_key, token))


def end(session: Session, token: str, hmac_key: bytes) -> uuid.UUID | None:
    """Sign out: the session's row goes, so its cookie opens nothing from now on. Returns
    the id of the admin signed out, or None when the session had ended already."""
    return sessions_repo.remove(session, token_hash(hmac_key, token))
