"""SCIM bearer tokens: issued per tenant, shown once, kept as an HMAC, revocable."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from rosterd.auth.secrets import SCIM_TOKEN_PREFIX, new_token, token_hash
from rosterd.models import ScimToken, Tenant
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound, Unauthenticated, invalid_field

# last_used_at is written at most this often, so a busy IdP does not turn reads into writes.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedScimToken:
    record: ScimToken
    token: str


def create_token(
    session: Session, tenant: Tenant, *, name: str, hmac_key: bytes, actor: Actor
) -> IssuedScimToken:
    if not name.strip() or len(name) > 255:
        raise invalid_field("name", "give a name of 1 to 255 characters")
    token = new_token(SCIM_TOKEN_PREFIX)
    record = credentials_repo.add_scim_token(
        session,
        ScimToken(tenant_id=tenant.id, name=name, token_hash=token_hash(hmac_key, token)),
    )
    audit.record(
        session, actor, "scim_token.created", "scim_token", record.id, after={"name": name}
    )
    return IssuedScimToken(record=record, token=token)


def list_tokens(session: Session, tenant: Tenant) -> list[ScimToken]:
    return credentials_repo.list_scim_tokens(session, tenant.id)


def revoke_token(session: Session, tenant: Tenant, token_id: uuid.UUID, actor: Actor) -> ScimToken:
    record = credentials_repo.get_scim_token(session, tenant.id, token_id)
    if record is None:
        raise NotFound(f"SCIM token {token_id} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(session, actor, "scim_token.revoked", "scim_token", record.id)
    return record


def authenticate(session: Session, token: str, hmac_key: bytes) -> ScimToken:
    """The live token record for a presented SCIM token, or Unauthenticated. Reads only."""
    record = credentials_repo.find_scim_token(session, token_hash(hmac_key, token))
    if record is None or record.revoked_at is not None:
        raise Unauthenticated("invalid or revoked SCIM token")
    return record


def is_stale(record: ScimToken) -> bool:
    """Whether last_used_at is old enough to be worth a write."""
    return record.last_used_at is None or utcnow() - record.last_used_at > LAST_USED_GRANULARITY


def mark_used(session: Session, token_id: uuid.UUID) -> None:
    credentials_repo.touch_scim_token(session, token_id, utcnow())
