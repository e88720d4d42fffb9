"""Admin users: people who log in to /api/v1 with a password.

Failed logins are counted; after MAX_FAILURES in a row the account is locked for LOCKOUT.
Unknown usernames cost the same argon2 work as known ones, so timing does not tell them
apart, and every failure answers the same message.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.auth.secrets import hash_password, verify_password
from rosterd.models import AdminUser, Tenant
from rosterd.repositories import admins as admins_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Unauthenticated, invalid_field

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8
_DUMMY_HASH = hash_password("not a real password, used to spend the same time")


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD or len(password) > 256:
        raise invalid_field(field, f"use {MIN_PASSWORD} to 256 characters")


def create_admin(
    session: Session, tenant: Tenant, *, username: str, password: str, actor: Actor
) -> AdminUser:
    if not username.strip() or len(username) > 255:
        raise invalid_field("username", "give a username of 1 to 255 characters")
    check_password_rules(password)
    if admins_repo.find_by_username(session, username) is not None:
        raise Conflict(f"an admin named {username!r} already exists")
    admin = admins_repo.add(
        session,
        AdminUser(tenant_id=tenant.id, username=username, password_hash=hash_password(password)),
    )
    audit.record(session, actor, "admin.created", "admin", admin.id, after={"username": username})
    return admin


def login(session: Session, username: str, password: str, now: datetime) -> AdminUser | None:
    """Check credentials and keep the failure count; the caller commits either way."""
    # Locked so that concurrent attempts are counted one after another: without the lock,
    # parallel failures read the same count and all write count + 1, escaping the lockout.
    admin = admins_repo.find_by_username(session, username, for_update=True)
    if admin is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if admin.locked_until is not None and admin.locked_until > now:
        return None
    if not verify_password(admin.password_hash, password):
        admin.failed_attempts += 1
        if admin.failed_attempts >= MAX_FAILURES:
            admin.locked_until = now + LOCKOUT
            admin.failed_attempts = 0
        return None
    admin.failed_attempts = 0
    admin.locked_until = None
    admin.last_login_at = now
    return admin


def current(session: Session, admin_id: uuid.UUID, epoch: int) -> AdminUser:
    """The admin a token names, if the token has not been revoked since."""
    admin = admins_repo.get(session, admin_id)
    if admin is None or admin.token_epoch != epoch:
        raise Unauthenticated("the token was revoked; log in again")
    return admin


def logout(session: Session, admin: AdminUser) -> None:
    """Revoke every token issued to this admin so far."""
    admin.token_epoch += 1


def list_admins(session: Session, tenant: Tenant) -> list[AdminUser]:
    return admins_repo.list_for_tenant(session, tenant.id)


def find(session: Session, username: str) -> AdminUser:
    admin = admins_repo.find_by_username(session, username)
    if admin is None:
        raise Unauthenticated("unknown admin")
    return admin
