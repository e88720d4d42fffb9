"""Console sessions: only the token's HMAC is stored; idle and absolute lifetimes; sign-out;
a password reset (the admin's token epoch) ends them."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rosterd.models import AdminUser, ConsoleSession
from rosterd.models.base import utcnow
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import admins as admins_service
from rosterd.services import console_sessions
from rosterd.services.context import Actor
from rosterd.services.errors import Unauthenticated

KEY = b"test hmac key"
LIFETIMES = console_sessions.Lifetimes(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


@pytest.fixture
def admin(session: Session, actor: Actor) -> AdminUser:
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    return admins_service.create_admin(
        session,
        tenant,
        username=f"admin-{secrets.token_hex(4)}",
        password="a password",
        actor=actor,
    )


def test_a_session_resumes_until_signed_out(session: Session, admin: AdminUser) -> None:
    now = utcnow()
    token = console_sessions.start(session, admin, KEY, now)
    stored = session.scalars(select(ConsoleSession.token_hash)).all()
    assert token not in stored
    signed = console_sessions.resume(session, token, KEY, LIFETIMES, now + timedelta(minutes=5))
    assert isinstance(signed, console_sessions.SignedIn)
    assert signed.admin.id == admin.id
    assert console_sessions.csrf_matches(KEY, token, signed.csrf_token)
    assert not console_sessions.csrf_matches(KEY, token, "0" * 64)
    console_sessions.end(session, token, KEY)
    with pytest.raises(Unauthenticated):
        console_sessions.resume(session, token, KEY, LIFETIMES, now)


def test_use_keeps_a_session_alive_until_its_absolute_end(
    session: Session, admin: AdminUser
) -> None:
    start = utcnow()
    token = console_sessions.start(session, admin, KEY, start)
    moment = start
    while moment + timedelta(minutes=20) < start + LIFETIMES.absolute:
        moment += timedelta(minutes=20)
        resumed = console_sessions.resume(session, token, KEY, LIFETIMES, moment)
        assert isinstance(resumed, console_sessions.SignedIn)
    ended = console_sessions.resume(session, token, KEY, LIFETIMES, start + LIFETIMES.absolute)
    assert ended == console_sessions.Ended((admin, console_sessions.ABSOLUTE_TIMEOUT))
    # Ended sessions are deleted, not kept to be refused again.
    assert (
        session.scalars(select(ConsoleSession).where(ConsoleSession.admin_id == admin.id)).all()
        == []
    )


def test_an_idle_session_ends_once(session: Session, admin: AdminUser) -> None:
    start = utcnow()
    token = console_sessions.start(session, admin, KEY, start)
    ended = console_sessions.resume(session, token, KEY, LIFETIMES, start + LIFETIMES.idle)
    assert ended == console_sessions.Ended((admin, console_sessions.IDLE_TIMEOUT))
    # Deleted: whoever presents it again finds no session.
    with pytest.raises(Unauthenticated):
        console_sessions.resume(session, token, KEY, LIFETIMES, start + LIFETIMES.idle)


def test_a_password_reset_ends_the_admins_sessions(
    session: Session, actor: Actor, admin: AdminUser
) -> None:
    now = utcnow()
    token = console_sessions.start(session, admin, KEY, now)
    admins_service.reset_password(
        session, admin, admins_service.new_password_hash("new one!"), actor
    )
    # Ended, by what the reset audited itself: not a timeout.
    ended = console_sessions.resume(session, token, KEY, LIFETIMES, now)
    assert ended == console_sessions.Ended(None)


def test_a_token_of_another_key_opens_nothing(session: Session, admin: AdminUser) -> None:
    now = utcnow()
    token = console_sessions.start(session, admin, KEY, now)
    with pytest.raises(Unauthenticated):
        console_sessions.resume(session, token, b"another key", LIFETIMES, now)
