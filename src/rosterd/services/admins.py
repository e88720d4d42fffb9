"""Admin users: people who log in to /api/v1 with a password.

A login is three steps, so that argon2 never runs inside a database transaction (on SQLite
the one writer would wait for it): ``find_for_login`` reads the admin, ``check_password``
verifies outside any session, and ``complete_login`` is a short write on success. Unknown
usernames go through ``check_password`` too, against a dummy hash made with the same
parameters, so every failure costs the same and answers the same. Failures are counted by
the login throttle (rosterd.auth.login_guard), not here: there is no lockout an attacker
could trigger, only a per-address throttle whose key carries ``throttle_epoch``, which
``unlock`` bumps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import hash_password, password_needs_rehash, verify_password
from rosterd.models import AdminUser, Tenant
from rosterd.repositories import admins as admins_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, NotFound, Unauthenticated, invalid_field

MIN_PASSWORD = 8
# Verified when the username is unknown. Made by the same hasher, so with the parameters
# every stored hash has (older ones are replaced at their next login).
DUMMY_PASSWORD_HASH = hash_password("not a real password, used to spend the same time")


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD or len(password) > 256:
        raise invalid_field(field, f"use {MIN_PASSWORD} to 256 characters")


def new_password_hash(password: str) -> str:
    """The hash of an acceptable new password. Slow (argon2): call it before the transaction
    that stores it begins."""
    check_password_rules(password)
    return hash_password(password)


def create_admin(
    session: Session,
    tenant: Tenant,
    *,
    username: str,
    password: str,
    actor: Actor,
    scopes: list[str] | None = None,
) -> AdminUser:
    """A new admin. ``scopes`` bounds what they may grant an app in the OAuth authorization
    code flow (None: every scope)."""
    if not username.strip() or len(username) > 255:
        raise invalid_field("username", "give a username of 1 to 255 characters")
    if scopes is not None:
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown or not scopes:
            raise invalid_field("scopes", f"give known scopes ({', '.join(ALL_SCOPES)})")
        scopes = sorted(set(scopes))
    check_password_rules(password)
    if admins_repo.find_by_username(session, username) is not None:
        raise Conflict(f"an admin named {username!r} already exists")
    admin = admins_repo.add(
        session,
        AdminUser(
            tenant_id=tenant.id,
            username=username,
            password_hash=hash_password(password),
            scopes=scopes,
        ),
    )
    audit.record(
        session,
        actor,
        "admin.created",
        "admin",
        admin.id,
        after={"username": username, "scopes": scopes},
    )
    return admin


@dataclass(frozen=True)
class LoginCandidate:
    """What a login needs to know of an admin, read before the password is checked."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    password_hash: str
    throttle_epoch: int


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    # On success, when the stored hash has outdated parameters: its replacement.
    rehash: str | None = None


def find_for_login(
    session: Session, username: str, tenant_id: uuid.UUID | None = None
) -> LoginCandidate | None:
    """The admin ``username`` names (in ``tenant_id`` when given: an admin of another tenant
    is as unknown as a username nobody has)."""
    admin = admins_repo.find_by_username(session, username)
    if admin is None or (tenant_id is not None and admin.tenant_id != tenant_id):
        return None
    return LoginCandidate(
        admin.id, admin.tenant_id, admin.username, admin.password_hash, admin.throttle_epoch
    )


def check_password(candidate: LoginCandidate | None, password: str) -> PasswordCheck:
    """Verify ``password`` against the candidate's hash, or the dummy hash for an unknown
    username: one argon2 verification either way. CPU only; run it outside any session."""
    stored = candidate.password_hash if candidate is not None else DUMMY_PASSWORD_HASH
    ok = verify_password(stored, password) and candidate is not None
    if not ok:
        return PasswordCheck(ok=False)
    return PasswordCheck(
        ok=True, rehash=hash_password(password) if password_needs_rehash(stored) else None
    )


def complete_login(
    session: Session, candidate: LoginCandidate, check: PasswordCheck, now: datetime
) -> AdminUser | None:
    """Record a successful login; None when the admin was deleted or given another password
    while its password was being checked (the password checked is then no longer its own)."""
    admin = admins_repo.get(session, candidate.id, for_update=True)
    if admin is None or admin.password_hash != candidate.password_hash:
        return None
    admin.last_login_at = now
    if check.rehash is not None:
        admin.password_hash = check.rehash
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


def get(
    session: Session, username: str, tenant_id: uuid.UUID | None = None, *, for_update: bool = False
) -> AdminUser:
    """The admin named ``username`` (in ``tenant_id`` when given: an admin of another tenant
    is as unknown as one that does not exist)."""
    admin = admins_repo.find_by_username(session, username, for_update=for_update)
    if admin is None or (tenant_id is not None and admin.tenant_id != tenant_id):
        raise NotFound(f"admin {username!r} not found")
    return admin


def unlock(session: Session, admin: AdminUser, actor: Actor) -> None:
    """Lift the login throttles on this admin's account, for every address and every node:
    their keys carry the epoch this bumps."""
    admin.throttle_epoch += 1
    audit.record(session, actor, "admin.unlocked", "admin", admin.id, after=_named(admin))


def reset_password(session: Session, admin: AdminUser, password_hash: str, actor: Actor) -> None:
    """Give the admin a new password (hashed by ``new_password_hash`` beforehand), revoke
    every token issued to it and lift its login throttles."""
    admin.password_hash = password_hash
    admin.token_epoch += 1
    admin.throttle_epoch += 1
    audit.record(session, actor, "admin.password_reset", "admin", admin.id, after=_named(admin))


def delete_admin(session: Session, admin: AdminUser, actor: Actor) -> None:
    """Remove the admin; the tokens issued to it stop working at once."""
    audit.record(session, actor, "admin.deleted", "admin", admin.id, before=_named(admin))
    admins_repo.delete(session, admin)


def _named(admin: AdminUser) -> dict[str, str]:
    return {"username": admin.username}
