"""What an admin grants an app in the authorization code flow, and the tokens of that grant.

A grant is one consent: an admin let one client act for them with some scopes. It holds
the authorization code (usable once, for ``authorization_code_ttl_seconds``) and has any
number of refresh tokens, each used once and replaced by the next (rotation). The rules
of RFC 6749 §4.1.2 and §10.4 and the OAuth security BCP live here:

- the scopes granted are those asked for, held by the client *and* by the admin (an app
  never gets more than the person who signed in may do);
- a code presented again, or a refresh token presented after it was rotated, means it
  leaked: the whole grant is revoked, so every token issued from it stops working.

The protocol itself (parameters, PKCE, client authentication) is Authlib's, in
rosterd.api.oauth.server; this module is called from there and never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.auth.scopes import ALL_SCOPES
from rosterd.auth.secrets import (
    AUTHORIZATION_CODE_PREFIX,
    REFRESH_TOKEN_PREFIX,
    new_token,
    token_hash,
)
from rosterd.models import AdminUser, OAuthClient, OAuthGrant, OAuthRefreshToken
from rosterd.models.base import utcnow
from rosterd.repositories import admins as admins_repo
from rosterd.repositories import oauth_grants as grants_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid, NotFound

RESOURCE = "oauth_grant"


class Replayed(Exception):
    """A used code or rotated refresh token came back: its grant has been revoked (in the
    caller's transaction, which must commit although the request is refused)."""


@dataclass(frozen=True)
class Delegation:
    """Who a grant's tokens act for: the admin, through the grant (and so its client)."""

    admin: AdminUser
    grant: OAuthGrant


def admin_scopes(admin: AdminUser) -> frozenset[str]:
    """The scopes an admin may hold (and so grant): theirs, or every scope when unset."""
    return frozenset(ALL_SCOPES if admin.scopes is None else admin.scopes)


def admin_of(session: Session, tenant_id: uuid.UUID, username: str) -> AdminUser:
    """The signed-in admin's row, in the tenant they signed in to."""
    admin = admins_repo.find_by_username(session, username)
    if admin is None or admin.tenant_id != tenant_id:
        raise NotFound("the signed-in admin no longer exists")
    return admin


def client_allows(
    client: OAuthClient, requested: str | None, admin: AdminUser | None = None
) -> list[str] | None:
    """The scopes of an authorization request that the client may ask for; None when it
    names a scope the client does not hold or nobody knows. A request naming none asks for
    the client's scopes that ``admin`` (who is asked to consent) holds, and None when there
    are none."""
    if not requested:
        rights = admin_scopes(admin) if admin is not None else frozenset(ALL_SCOPES)
        if "admin" in rights:
            return sorted(client.scopes)
        mine = sorted(s for s in client.scopes if s in rights)
        return mine or None
    asked = set(requested.split())
    held = set(client.scopes)
    if not asked <= set(ALL_SCOPES) or not (asked <= held or "admin" in held):
        return None
    return sorted(asked)


def grantable(scopes: list[str], admin: AdminUser) -> list[str]:
    """``scopes`` if the admin holds every one of them; Invalid(invalid_scope) if not."""
    rights = admin_scopes(admin)
    if "admin" in rights:
        return scopes
    missing = [s for s in scopes if s not in rights]
    if missing:
        raise Invalid(
            f"you do not hold the scope(s) {' '.join(missing)}, so you cannot grant them",
            code="invalid_scope",
        )
    return scopes


def new_code() -> str:
    return new_token(AUTHORIZATION_CODE_PREFIX)


def start(
    session: Session,
    client: OAuthClient,
    admin: AdminUser,
    *,
    code: str,
    scopes: list[str],
    redirect_uri: str,
    code_challenge: str,
    hmac_key: bytes,
    code_ttl: timedelta,
    actor: Actor,
) -> None:
    """Record the admin's consent, with the authorization code it is redeemed with (kept
    only as an HMAC). Invalid(invalid_scope) when the admin lacks a scope."""
    now = utcnow()
    grant = OAuthGrant(
        tenant_id=client.tenant_id,
        client_row_id=client.id,
        admin_id=admin.id,
        admin_token_epoch=admin.token_epoch,
        scopes=grantable(scopes, admin),
        code_hash=token_hash(hmac_key, code),
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        code_expires_at=now + code_ttl,
        created_at=now,
    )
    grants_repo.add(session, grant)
    audit.record(
        session,
        actor,
        f"{RESOURCE}.created",
        RESOURCE,
        grant.id,
        after={"client_id": client.client_id, "scopes": grant.scopes},
    )


def _revoke(session: Session, grant: OAuthGrant, now: datetime, why: str) -> None:
    if grant.revoked_at is None:
        grant.revoked_at = now
        grants_repo.revoke(session, grant.id, now)
        audit.record(
            session,
            _system_actor(grant),
            f"{RESOURCE}.revoked",
            RESOURCE,
            grant.id,
            after={"reason": why},
        )


def _system_actor(grant: OAuthGrant) -> Actor:
    return Actor(tenant_id=grant.tenant_id, actor="rosterd", surface="oauth")


def redeem_code(
    session: Session, tenant_id: uuid.UUID, client: OAuthClient, code: str, hmac_key: bytes
) -> OAuthGrant | None:
    """The live grant of an unused, unexpired code of this client, locked; None otherwise.
    A code used before revokes its grant and raises Replayed."""
    grant = grants_repo.grant_by_code(session, tenant_id, token_hash(hmac_key, code))
    if grant is None or grant.client_row_id != client.id:
        return None
    now = utcnow()
    if grant.code_used_at is not None:
        _revoke(session, grant, now, "authorization code used twice")
        raise Replayed
    if grant.revoked_at is not None or grant.code_expires_at <= now:
        return None
    return grant


def mark_code_used(grant: OAuthGrant) -> None:
    grant.code_used_at = utcnow()


def redeem_refresh_token(
    session: Session, tenant_id: uuid.UUID, client: OAuthClient, token: str, hmac_key: bytes
) -> tuple[OAuthRefreshToken, OAuthGrant] | None:
    """The unused, unexpired refresh token of a live grant of this client, locked; None
    otherwise. One used before revokes its grant and raises Replayed."""
    found = grants_repo.refresh_token(session, tenant_id, token_hash(hmac_key, token))
    if found is None or found[1].client_row_id != client.id:
        return None
    row, grant = found
    now = utcnow()
    if row.used_at is not None:
        _revoke(session, grant, now, "refresh token used after it was rotated")
        raise Replayed
    if grant.revoked_at is not None or row.expires_at <= now:
        return None
    return found


def mark_refresh_token_used(row: OAuthRefreshToken) -> None:
    row.used_at = utcnow()


def delegation(session: Session, grant: OAuthGrant) -> Delegation | None:
    """Who the grant acts for, while that admin exists and has not ended their sessions
    since (``token_epoch``)."""
    admin = grants_repo.admin(session, grant.tenant_id, grant.admin_id)
    if admin is None or admin.token_epoch != grant.admin_token_epoch:
        return None
    return Delegation(admin=admin, grant=grant)


def current_scopes(found: Delegation) -> list[str]:
    """The grant's scopes the admin still holds (their rights may have shrunk since)."""
    rights = admin_scopes(found.admin)
    if "admin" in rights:
        return sorted(found.grant.scopes)
    return sorted(s for s in found.grant.scopes if s in rights)


def issue_refresh_token(
    session: Session, grant: OAuthGrant, hmac_key: bytes, ttl: timedelta
) -> str:
    token = new_token(REFRESH_TOKEN_PREFIX)
    now = utcnow()
    grants_repo.add(
        session,
        OAuthRefreshToken(
            tenant_id=grant.tenant_id,
            grant_id=grant.id,
            token_hash=token_hash(hmac_key, token),
            created_at=now,
            expires_at=now + ttl,
        ),
    )
    return token


def grant_of_refresh_token(
    session: Session, tenant_id: uuid.UUID, token: str, hmac_key: bytes
) -> OAuthGrant | None:
    """The grant a refresh token belongs to (used or not), for RFC 7009 revocation."""
    found = grants_repo.refresh_token(session, tenant_id, token_hash(hmac_key, token))
    return None if found is None else found[1]


def grant_by_id(session: Session, tenant_id: uuid.UUID, grant_id: uuid.UUID) -> OAuthGrant | None:
    return grants_repo.grant(session, tenant_id, grant_id)


def revoke(session: Session, grant: OAuthGrant) -> None:
    """End the grant at its client's request (RFC 7009): every token issued from it."""
    _revoke(session, grant, utcnow(), "revoked by the client")


def purge_spent(
    session: Session, tenant_id: uuid.UUID, now: datetime, grace: timedelta, batch: int
) -> int:
    """Delete at most ``batch`` of the tenant's spent rows, ``grace`` after they were spent;
    how many went. Refresh tokens go first (expired ones, and all of a revoked grant), then
    grants with no token left whose code expired unredeemed, that were revoked, or whose
    last refresh token expired. A used refresh token of a live grant stays while it is within
    its lifetime, so that its reuse is still caught. The scheduler calls it again, each time
    in a transaction of its own, while a full batch went."""
    cutoff = now - grace
    done = grants_repo.delete_spent_refresh_tokens(session, tenant_id, cutoff, batch)
    if done < batch:
        done += grants_repo.delete_spent_grants(session, tenant_id, cutoff, batch - done)
    return done
